"""The S3 requests and SNS publishes the cost model bills are the ones the code makes.

imgflow_toolkit.report.cost counts requests per invocation from a table; here the real
handlers run on the embedded AWS and every S3 and SNS call they make is
counted (botocore's API call, whatever the thread), then compared.
"""

from __future__ import annotations

import threading

import pytest
from botocore.client import BaseClient
from workflow_support import sample

from imgflow_toolkit.report import cost

TIER1 = {"PutObject", "CopyObject", "PostObject", "ListObjects", "ListObjectsV2"}
TIER2 = {"GetObject", "HeadObject"}
FREE = {"DeleteObject"}


@pytest.fixture
def calls(monkeypatch):
    """Every S3 and SNS operation called from now on (service, operation)."""
    made: list[tuple[str, str]] = []
    lock = threading.Lock()
    original = BaseClient._make_api_call

    def counted(self, operation, params):
        service = self.meta.service_model.service_name
        if service in ("s3", "sns"):
            with lock:
                made.append((service, operation))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    return made


@pytest.mark.parametrize(
    ("key", "functions"),
    [
        (
            "photos/harbour.jpg",
            ["ValidateImageFunction", "CompressImageFunction", "StoreResultFunction"],
        ),
        ("broken/truncated.jpg", ["ValidateImageFunction", "QuarantineOriginalFunction"]),
    ],
)
def test_billed_requests_are_the_requests_the_workflow_makes(stack, calls, key, functions):
    stack.upload(key, sample(key))
    (execution,) = stack.wait()
    assert execution["status"] == ("SUCCEEDED" if key.startswith("photos/") else "FAILED")
    assert [f for f, _ in stack.invocations] == [*functions, "NotifyFunction"]
    s3 = [op for service, op in calls if service == "s3"]
    s3.remove("PutObject")  # the upload itself: the user's request, not the workflow's
    assert set(s3) <= TIER1 | TIER2 | FREE, s3
    billed = [cost.S3_REQUESTS_PER_INVOCATION[f] for f, _ in stack.invocations]
    assert sum(op in TIER1 for op in s3) == sum(r.tier1 for r in billed), s3
    assert sum(op in TIER2 for op in s3) == sum(r.tier2 for r in billed), s3
    publishes = [op for service, op in calls if service == "sns" and op == "Publish"]
    assert len(publishes) == cost.SNS_PUBLISHES_PER_INVOCATION["NotifyFunction"]
