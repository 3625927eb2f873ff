"""What "nothing lost" means for one upload, checked on a finished embedded stack.

Every upload ends in exactly one of two verdicts:

- compressed correctly: the execution SUCCEEDED, the result decodes with the
  original's dimensions, frame count and EXIF orientation (and keeps the
  extra pictures of an MPO / Ultra HDR file), the original is untouched;
- quarantined: the execution FAILED with a specific error type (never a bare
  ``Exception`` or ``States.*``), the original is byte-identical in the failed
  bucket with the error in its metadata, it is still in the source bucket,
  and one failure notification carries an actionable message.

``run_uploads`` runs a batch on a fresh stack and returns a plain snapshot
per key, so the stack is gone before the assertions run.
"""

from __future__ import annotations

import io
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from PIL import Image, ImageSequence
from workflow_support import states_entered

from imgflow.contract import META_ERROR_TYPE, META_EXECUTION
from imgflow.imaging.metadata import is_multi_picture
from imgflow.trigger import source_from_event
from imgflow_toolkit.local.runtime import EmbeddedStack

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
# Words that tell a user what to do next.
ACTIONABLE = re.compile(r"\b(upload|re-export|raise|remove|use|convert)\b", re.IGNORECASE)
GENERIC_ERRORS = {"Exception", "States.Runtime", "States.TaskFailed", "Unknown", ""}


@dataclass
class Verdict:
    """Everything the stack knew about one upload when it was torn down."""

    key: str
    uploaded: bytes
    status: str
    error: str | None
    cause: str | None
    path: list[str]
    output: dict[str, Any] | None
    source_now: bytes | None
    failed_copy: bytes | None
    failed_metadata: dict[str, str]
    result: bytes | None
    executions: int
    notifications: list[dict[str, Any]] = field(default_factory=list)
    execution_arn: str = ""

    @property
    def message(self) -> str:
        note = self.notifications[0]["body"] if self.notifications else {}
        return ((note.get("error") or {}).get("message")) or ""


def run_uploads(
    cases: dict[str, bytes], parameters: dict[str, str] | None = None
) -> dict[str, Verdict]:
    """Upload every case to a fresh stack, wait for all, and snapshot each key."""
    with EmbeddedStack(TEMPLATE, parameters) as stack:
        for key, data in cases.items():
            stack.upload(key, data)
        return snapshot(stack, cases)


def snapshot(stack: EmbeddedStack, cases: dict[str, bytes]) -> dict[str, Verdict]:
    executions = stack.wait()
    notes = stack.notifications()
    by_key: dict[str, list[dict[str, Any]]] = {}
    for execution in executions:
        key = source_from_event(json.loads(execution["input"])).key
        by_key.setdefault(key, []).append(execution)
    verdicts = {}
    for key, data in cases.items():
        runs = by_key.get(key, [])
        last = runs[-1] if runs else {}
        arn = last.get("executionArn", "")
        failed_metadata = {}
        failed = _maybe_read(stack, stack.failed_bucket, key)
        if failed is not None:
            failed_metadata = stack.s3.head_object(Bucket=stack.failed_bucket, Key=key)["Metadata"]
        verdicts[key] = Verdict(
            key=key,
            uploaded=data,
            status=last.get("status", "NOT STARTED"),
            error=last.get("error"),
            cause=last.get("cause"),
            path=states_entered(stack, arn) if arn else [],
            output=json.loads(last["output"]) if last.get("output") else None,
            source_now=_maybe_read(stack, stack.source_bucket, key),
            failed_copy=failed,
            failed_metadata=failed_metadata,
            result=_maybe_read(stack, stack.result_bucket, key),
            executions=len(runs),
            notifications=[n for n in notes if n["body"]["key"] == key],
            execution_arn=arn,
        )
    return verdicts


def _maybe_read(stack: EmbeddedStack, bucket: str, key: str) -> bytes | None:
    try:
        return stack.read(bucket, key)
    except ClientError:
        return None


def assert_quarantined(v: Verdict, error_type: str, says: str) -> None:
    """Rejected with a specific, actionable error; the original kept byte for byte."""
    assert v.executions == 1, f"{v.key}: {v.executions} executions"
    assert v.status == "FAILED", f"{v.key}: {v.status} {v.output}"
    assert v.error == error_type, f"{v.key}: {v.error}: {v.cause}"
    assert v.error not in GENERIC_ERRORS and not v.error.startswith("States.")
    assert v.path[-3:] == ["Quarantine original", "Notify failure", "Failed"], v.path
    assert v.failed_copy == v.uploaded, f"{v.key}: the failed bucket must hold the original"
    assert v.failed_metadata[META_ERROR_TYPE] == error_type
    assert v.failed_metadata[META_EXECUTION] == v.execution_arn
    assert v.source_now == v.uploaded, f"{v.key}: the original must stay in the source bucket"
    assert v.result is None, f"{v.key}: a rejected image must not be published"
    assert len(v.notifications) == 1, v.notifications
    note = v.notifications[0]
    assert note["attributes"]["status"] == "FAILED"
    assert note["attributes"]["error_type"] == error_type
    assert says.lower() in v.message.lower(), f"{v.key}: {v.message!r} lacks {says!r}"
    assert ACTIONABLE.search(v.message), f"{v.key}: {v.message!r} says nothing to do"


def assert_compressed_correctly(v: Verdict) -> None:
    """Published: decodes like the original (size, frames, orientation); original untouched."""
    assert v.executions == 1, f"{v.key}: {v.executions} executions"
    assert v.status == "SUCCEEDED", f"{v.key}: {v.error}: {v.cause}"
    assert v.output and v.output["stored"]["outcome"] in ("compressed", "kept_original")
    assert v.result is not None, f"{v.key}: no result in the destination bucket"
    assert len(v.result) <= len(v.uploaded), f"{v.key}: the result is larger"
    assert v.source_now == v.uploaded, f"{v.key}: destination mode never touches the original"
    assert v.failed_copy is None
    before, after = describe_image(v.uploaded), describe_image(v.result)
    assert after == before, f"{v.key}: {before} became {after}"
    if v.output["stored"]["outcome"] == "kept_original":
        assert v.result == v.uploaded
    assert [n["attributes"]["status"] for n in v.notifications] == ["SUCCEEDED"]


def assert_accounted_for(v: Verdict) -> None:
    """One of the two verdicts, whichever applies (for files without a fixed expectation)."""
    if v.status == "SUCCEEDED":
        assert_compressed_correctly(v)
    else:
        assert_quarantined(v, v.error or "", says="")


def describe_image(data: bytes) -> dict[str, Any]:
    """What must survive compression: format family, size, frames, orientation, pictures."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = Image.open(io.BytesIO(data))
        frames = 0
        for frame in ImageSequence.Iterator(image):
            frame.load()
            frames += 1
        family = {"MPO": "JPEG"}.get(image.format or "", image.format)
        multi = family == "JPEG" and is_multi_picture(data)
        return {
            "format": family,
            "size": image.size,
            "frames": frames,
            "orientation": image.getexif().get(0x0112, 1),
            "multi_picture": multi,
        }
