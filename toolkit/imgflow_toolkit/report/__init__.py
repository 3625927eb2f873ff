"""What a run did and what it would cost, for a person: report.json, report.html, cost.json."""
