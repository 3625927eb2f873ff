"""What happened to each image, from its execution's description (local or AWS).

One ImageReport per input image is the ``report.json`` contract of
``imgflow run`` (docs: DESIGN section 5).
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from imgflow.contract import ErrorInfo, Outcome, failure_outcome
from imgflow.errors import InvalidEventError
from imgflow.trigger import source_from_event


@dataclass(frozen=True)
class ImageReport:
    key: str
    status: str  # SUCCEEDED | FAILED
    outcome: str  # compressed | kept_original | skipped | rejected | error
    bytes_in: int | None
    bytes_out: int | None
    error: ErrorInfo | None
    execution: str | None
    reason: str | None = None
    format: str | None = None  # Pillow's name (JPEG, PNG...), once validation read it
    megapixels: float | None = None
    method: str | None = None  # how the result was made (jpeg-jpegli-q-89, png-oxipng...)
    score: float | None = None  # SSIMULACRA2 of a lossy result

    def to_dict(self) -> dict[str, Any]:
        """One entry of report.json (the error as its JSON payload)."""
        return asdict(self) | {"error": self.error.model_dump(mode="json") if self.error else None}

    @property
    def saved_percent(self) -> float | None:
        if not self.bytes_in or self.bytes_out is None:
            return None
        return 100.0 * (self.bytes_in - self.bytes_out) / self.bytes_in


REPORT_JSON = "report.json"


def write_report_json(out_dir: Path, reports: list[ImageReport]) -> Path:
    """Write ``out_dir/report.json``: ``json.dumps(entries, indent=2)``'s bytes, an
    entry at a time (never the whole text in memory); return its path."""
    path = out_dir / REPORT_JSON
    with path.open("w", encoding="utf-8") as out:
        out.write("[")
        for number, report in enumerate(reports):
            entry = json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
            out.write(("," if number else "") + "\n" + textwrap.indent(entry, "  "))
        out.write("\n]\n" if reports else "]\n")
    return path


def report_from_execution(description: dict[str, Any]) -> ImageReport:
    """Summarise one DescribeExecution response as an ImageReport."""
    execution = description.get("executionArn")
    event = json.loads(description.get("input") or "{}")
    try:
        source = source_from_event(event)
        key, size = source.key, source.size
    except InvalidEventError:
        key, size = "", None
    if description["status"] == "SUCCEEDED":
        output = json.loads(description.get("output") or "{}")
        validated = output.get("validated") or {}
        size = (validated.get("source") or {}).get("size", size)
        image = _image_facts(validated)
        if validated.get("skip"):
            return ImageReport(
                key,
                "SUCCEEDED",
                Outcome.SKIPPED,
                size,
                None,
                None,
                execution,
                reason=validated.get("reason"),
                **image,
            )
        stored = output.get("stored") or {}
        return ImageReport(
            key,
            "SUCCEEDED",
            stored.get("outcome", Outcome.ERROR),
            stored.get("bytes_in", size),
            stored.get("bytes_out"),
            None,
            execution,
            reason=stored.get("reason"),
            method=stored.get("method"),
            score=(output.get("compressed") or {}).get("score"),
            **image,
        )
    error = ErrorInfo.from_states_error(
        {
            "Error": description.get("error") or description["status"],
            "Cause": description.get("cause"),
        }
    )
    outcome = failure_outcome(error.type)
    return ImageReport(key, "FAILED", outcome, size, None, error, execution)


def _image_facts(validated: dict[str, Any]) -> dict[str, Any]:
    """Format and megapixels from the validation step's output, when it got that far."""
    image = validated.get("image") or {}
    if not image:
        return {}
    pixels = int(image.get("width") or 0) * int(image.get("height") or 0)
    return {"format": image.get("format"), "megapixels": round(pixels / 1e6, 3)}


def format_table(reports: list[ImageReport]) -> str:
    """The summary a person reads: one row per image, then the totals."""
    rows = [("key", "outcome", "bytes in", "bytes out", "saved")]
    for r in reports:
        saved = "" if r.saved_percent is None else f"{r.saved_percent:.1f}%"
        outcome = r.outcome if r.error is None else f"{r.outcome} ({r.error.type})"
        rows.append((r.key, outcome, _num(r.bytes_in), _num(r.bytes_out), saved))
    total_in = sum(r.bytes_in or 0 for r in reports if r.bytes_out is not None)
    total_out = sum(r.bytes_out or 0 for r in reports if r.bytes_out is not None)
    pct = f"{100.0 * (total_in - total_out) / total_in:.1f}%" if total_in else ""
    rows.append((f"total ({len(reports)} images)", "", _num(total_in), _num(total_out), pct))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [row[i].rjust(widths[i]) for i in (2, 3, 4)]
        lines.append("  ".join(cells).rstrip())
        if n == 0 or n == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _num(value: int | None) -> str:
    return "" if value is None else f"{value:,}"
