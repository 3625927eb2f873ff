"""Injected faults at every step: retried when transient, quarantined when exhausted.

Three kinds of fault, each where it really happens:

- S3 or SNS throttling underneath the adapter: the function's own boto3 client
  raises ``SlowDown`` (503) / ``Throttling`` (what outlasts botocore's retries),
  which imgflow.aws translates to TransientError;
- a Lambda crash: the runtime process dies (``Runtime.ExitError``), or the
  service reports an unhandled failure (``Lambda.Unknown``);
- a Lambda timeout (``Sandbox.Timedout``).

In no case is an original lost or modified, and no execution is left RUNNING.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from verdicts import (
    assert_compressed_correctly,
    assert_quarantined,
    snapshot,
)
from workflow_support import sample

from imgflow_toolkit.local import moto_patches
from imgflow_toolkit.local.moto_patches import LambdaServiceFault
from imgflow_toolkit.local.runtime import EmbeddedStack

GOOD, BROKEN = sample("photos/harbour.jpg"), sample("broken/truncated.jpg")
TERMINAL = {"SUCCEEDED", "FAILED"}

# state -> (function, which notification it sends, path the image takes)
STEPS = {
    "Validate image": ("ValidateImageFunction", None, "main"),
    "Compress image": ("CompressImageFunction", None, "main"),
    "Store result": ("StoreResultFunction", None, "main"),
    "Notify success": ("NotifyFunction", "SUCCEEDED", "main"),
    "Quarantine original": ("QuarantineOriginalFunction", None, "failure"),
    "Notify failure": ("NotifyFunction", "FAILED", "failure"),
}
# fault kind -> the error name Step Functions sees
KINDS = {
    "throttled": "TransientError",
    "lambda-unknown": "Lambda.Unknown",
    "runtime-crash": "Runtime.ExitError",
    "timeout": "Sandbox.Timedout",
}
MAX_ATTEMPTS = {"Quarantine original": 6}  # the others retry 4 times


class FlakyClient:
    """A boto3 client whose calls fail like a throttled service while ``failing()``."""

    def __init__(self, real: Any, error: dict, failing: Callable[[dict], bool]) -> None:
        self._real, self._error, self._failing = real, error, failing

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._real, name)
        if name.startswith("_") or not callable(attribute):
            return attribute

        def call(**kwargs: Any) -> Any:
            if self._failing(kwargs):
                raise ClientError(self._error, name)
            return attribute(**kwargs)

        return call


SLOW_DOWN = {
    "Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
    "ResponseMetadata": {"HTTPStatusCode": 503},
}
SNS_THROTTLED = {
    "Error": {"Code": "Throttling", "Message": "Rate exceeded"},
    "ResponseMetadata": {"HTTPStatusCode": 400},
}


def inject(stack: EmbeddedStack, state: str, kind: str, times: int | None) -> list[int]:
    """Fail ``state`` ``times`` times (None: always); returns the failure counter."""
    function, status, _ = STEPS[state]
    failures = [0]

    def due(event_status: str | None) -> bool:
        if status is not None and event_status != status:
            return False  # the other notification goes through
        if times is not None and failures[0] >= times:
            return False
        failures[0] += 1
        return True

    if kind == "throttled":
        module = stack.handler_module(function)
        if function == "NotifyFunction":
            publisher = module.PUBLISHER
            publisher._sns = FlakyClient(
                publisher._sns,
                SNS_THROTTLED,
                lambda kw: due(kw["MessageAttributes"]["status"]["StringValue"]),
            )
        else:
            store = module.STORE
            store._s3 = FlakyClient(store._s3, SLOW_DOWN, lambda kw: due(None))
    else:

        def fault(event: dict) -> None:
            if due(event.get("status")):
                raise LambdaServiceFault(KINDS[kind])

        stack.inject(function, fault)
    return failures


def run(state: str, kind: str, times: int | None):
    data = GOOD if STEPS[state][2] == "main" else BROKEN
    key = "faults/pic.jpg"
    with EmbeddedStack() as stack:
        failures = inject(stack, state, kind, times)
        stack.upload(key, data)
        verdict = snapshot(stack, {key: data})[key]
        statuses = {e["status"] for e in stack.wait()}
        delays = [d for d in moto_patches.retry_delays if d.state_name == state]
    assert statuses <= TERMINAL, f"left running: {statuses}"
    return verdict, failures[0], delays


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("state", STEPS)
def test_a_transient_fault_is_retried_and_the_execution_ends_as_without_it(state, kind):
    verdict, failures, delays = run(state, kind, times=1)
    assert failures == 1
    assert [d.error for d in delays] == [KINDS[kind]], "retried once, for that error"
    if STEPS[state][2] == "main":
        assert_compressed_correctly(verdict)
    else:
        assert_quarantined(verdict, "InvalidImageError", "truncated")


@pytest.mark.parametrize("kind", ["throttled", "runtime-crash", "timeout"])
@pytest.mark.parametrize("state", ["Validate image", "Compress image", "Store result"])
def test_exhausted_retries_quarantine_the_original(state, kind):
    verdict, failures, delays = run(state, kind, times=None)
    assert len(delays) == MAX_ATTEMPTS.get(state, 4) == failures - 1
    assert_quarantined(verdict, KINDS[kind], says="")


@pytest.mark.parametrize("kind", ["throttled", "runtime-crash", "timeout"])
def test_exhausted_success_notification_ends_failed_with_result_and_original_kept(kind):
    verdict, _, delays = run("Notify success", kind, times=None)
    assert len(delays) == 4
    assert verdict.status == "FAILED" and verdict.error == KINDS[kind]
    assert verdict.result is not None, "the stored result stays"
    assert verdict.failed_copy == verdict.uploaded == verdict.source_now
    assert [n["attributes"]["status"] for n in verdict.notifications] == ["FAILED"]


@pytest.mark.parametrize("kind", ["throttled", "runtime-crash", "timeout"])
def test_exhausted_quarantine_leaves_the_original_in_place_and_says_so(kind):
    verdict, failures, delays = run("Quarantine original", kind, times=None)
    assert len(delays) == 6 == failures - 1
    assert verdict.status == "FAILED"
    assert verdict.error == "InvalidImageError", "the image's own error, not the quarantine's"
    assert verdict.failed_copy is None
    assert verdict.source_now == verdict.uploaded, "nothing lost: the original stays put"
    (note,) = verdict.notifications
    assert note["body"]["extra"]["quarantine_error"]["type"] == KINDS[kind]


@pytest.mark.parametrize("kind", ["throttled", "runtime-crash", "timeout"])
def test_exhausted_failure_notification_still_ends_failed_with_the_original_kept(kind):
    verdict, _, delays = run("Notify failure", kind, times=None)
    assert len(delays) == 4
    assert verdict.status == "FAILED" and verdict.error == "InvalidImageError"
    assert verdict.failed_copy == verdict.uploaded == verdict.source_now
    assert verdict.notifications == []
