"""Duplicates and races: one upload, one result, one notification, nothing overwritten.

S3 and EventBridge deliver at least once, and EventBridge cannot name
executions, so the same event can start two executions at the same moment.
Both pass ValidateImage's "already processed?" check; StoreResult's
conditional write (If-None-Match / If-Match) lets exactly one of them store
and notify; the other ends Skipped. The races are forced, not hoped for: a
barrier holds every execution at "Store result" until all have arrived.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from workflow_support import output, sample, states_entered, story

from imgflow.contract import META_MARKER, META_SOURCE_ETAG
from imgflow_toolkit.local.runtime import EmbeddedStack

WINNER_TAIL = ["Store result", "Stored?", "Notify success", "Done"]
LOSER_TAIL = ["Store result", "Stored?", "Skipped"]


def hold_until_all_arrive(stack: EmbeddedStack, function: str, parties: int) -> None:
    barrier = threading.Barrier(parties, timeout=60)
    stack.inject(function, lambda event: barrier.wait())


def start_duplicates(stack: EmbeddedStack, copies: int) -> None:
    """The upload's own execution plus ``copies`` more with the very same input."""
    (first,) = stack.executions()
    event = stack.describe(first["executionArn"])["input"]
    for _ in range(copies):
        stack.sfn.start_execution(stateMachineArn=stack.state_machine_arn, input=event)


def stored(execution: dict) -> dict:
    return output(execution).get("stored") or {}


@pytest.mark.parametrize("copies", [2, 4])
def test_concurrent_duplicate_events_write_one_result_and_one_notification(copies):
    with EmbeddedStack() as stack:
        hold_until_all_arrive(stack, "StoreResultFunction", copies)
        original = sample("photos/harbour.jpg")
        stack.upload("dup/harbour.jpg", original)
        start_duplicates(stack, copies - 1)
        executions = stack.wait()
        assert [e["status"] for e in executions] == ["SUCCEEDED"] * copies
        paths = [states_entered(stack, e["executionArn"]) for e in executions]
        winners = [p for p in paths if p[-4:] == WINNER_TAIL]
        losers = [p for p in paths if p[-3:] == LOSER_TAIL]
        assert (len(winners), len(losers)) == (1, copies - 1), paths
        assert sorted(stored(e)["outcome"] for e in executions) == ["compressed"] + ["skipped"] * (
            copies - 1
        )
        assert {stored(e)["reason"] for e in executions} == {None, "already_processed"}
        assert stack.keys(stack.result_bucket) == ["dup/harbour.jpg"], "no staging left behind"
        assert len(stack.notifications()) == 1
        assert stack.read(stack.source_bucket, "dup/harbour.jpg") == original
        assert stack.keys(stack.failed_bucket) == []


def test_concurrent_duplicates_unforced_still_write_one_result(stack):
    stack.upload("dup/chart.png", sample("photos/chart.png"))
    start_duplicates(stack, 3)
    executions = stack.wait()
    told = story(stack, executions)
    assert [e["status"] for e in executions] == ["SUCCEEDED"] * 4, told
    assert sum(stored(e).get("outcome") == "compressed" for e in executions) == 1, told
    assert len(stack.notifications()) == 1, told
    assert stack.keys(stack.result_bucket) == ["dup/chart.png"], told


def test_concurrent_duplicates_in_place_replace_the_original_once(in_place_stack):
    stack = in_place_stack
    hold_until_all_arrive(stack, "StoreResultFunction", 2)
    original = sample("photos/harbour.jpg")
    stack.upload("dup.jpg", original)
    start_duplicates(stack, 1)
    # Released: one replaces; its replacement's own execution skips (our output).
    executions = stack.wait()
    assert [e["status"] for e in executions] == ["SUCCEEDED"] * 3
    outcomes = sorted(
        stored(e).get("outcome") or output(e)["validated"]["reason"] for e in executions
    )
    assert outcomes == ["compressed", "our_output", "skipped"]
    versions = stack.s3.list_object_versions(Bucket=stack.source_bucket, Prefix="dup.jpg")
    assert len(versions["Versions"]) == 2, "the original and exactly one replacement"
    assert len(stack.notifications()) == 1
    assert [f for f, _ in stack.invocations].count("StoreResultFunction") == 2


def test_in_place_upload_during_compression_is_never_overwritten(in_place_stack):
    stack = in_place_stack
    first, newer = sample("photos/icon.png"), sample("photos/chart.png")
    uploaded = []

    def user_uploads_again(event):
        if not uploaded:
            uploaded.append(stack.upload("pic.png", newer)["ETag"].strip('"'))

    stack.inject("CompressImageFunction", user_uploads_again)
    stack.upload("pic.png", first)
    executions = stack.wait()
    by_outcome: dict[str, list[str]] = {}
    for e in executions:
        reason = stored(e).get("reason") or output(e)["validated"]["reason"]
        by_outcome.setdefault(stored(e).get("outcome") or reason, []).append(reason)
    # The first upload's execution lost its If-Match and ended Skipped
    # (superseded); the newer upload was compressed by its own execution;
    # that replacement's execution skipped it: one compressing execution each.
    assert sorted(by_outcome) == ["compressed", "our_output", "skipped"]
    assert by_outcome["skipped"] == ["superseded"]
    current = stack.s3.head_object(Bucket=stack.source_bucket, Key="pic.png")
    assert current["Metadata"][META_MARKER] == "1"
    assert current["Metadata"][META_SOURCE_ETAG] == uploaded[0], "made from the newer upload"
    versions = stack.s3.list_object_versions(Bucket=stack.source_bucket, Prefix="pic.png")
    bodies = [
        stack.s3.get_object(Bucket=stack.source_bucket, Key="pic.png", VersionId=v["VersionId"])[
            "Body"
        ].read()
        for v in versions["Versions"]
    ]
    assert first in bodies and newer in bodies, "both originals stay recoverable"
    assert len(bodies) == 3
    assert len(stack.notifications()) == 1


def test_an_older_upload_never_overwrites_a_newer_result_in_the_destination(stack):
    older, newer = sample("photos/icon.png"), sample("photos/chart.png")
    state = {}

    def newer_upload_wins_first(event):
        source = event["compressed"]["source"]
        if state:
            return  # the newer upload's own execution stores undisturbed
        state["newer"] = stack.upload("race.png", newer)["ETag"].strip('"')
        # Hold the older execution until the newer one has stored its result.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            head = stack.s3.list_objects_v2(Bucket=stack.result_bucket, Prefix="race.png")
            if head.get("KeyCount"):
                meta = stack.s3.head_object(Bucket=stack.result_bucket, Key="race.png")
                if meta["Metadata"].get(META_SOURCE_ETAG) == state["newer"]:
                    break
            time.sleep(0.01)
        assert source["etag"] != state["newer"]

    stack.inject("StoreResultFunction", newer_upload_wins_first)
    stack.upload("race.png", older)
    executions = stack.wait()
    reasons = sorted(str(stored(e).get("reason")) for e in executions)
    assert reasons == ["None", "superseded"]
    result = stack.s3.head_object(Bucket=stack.result_bucket, Key="race.png")
    assert result["Metadata"][META_SOURCE_ETAG] == state["newer"]
    assert len(stack.notifications()) == 1


def test_a_retried_store_that_already_wrote_still_succeeds_and_notifies(stack):
    # The write succeeded, then the function timed out before answering: the
    # retry finds its own result (same execution) and carries on, once.
    from imgflow_toolkit.local.moto_patches import LambdaServiceFault

    module = stack.handler_module("StoreResultFunction")
    real = module.store_result
    calls = []

    def write_then_time_out(compressed, settings, store, execution=None):
        calls.append(execution)
        result = real(compressed, settings, store, execution)
        if len(calls) == 1:
            raise LambdaServiceFault("Sandbox.Timedout")
        return result

    module.store_result = write_then_time_out
    stack.upload("retry.jpg", sample("photos/harbour.jpg"))
    (execution,) = stack.wait()
    assert execution["status"] == "SUCCEEDED"
    assert len(calls) == 2
    assert stored(execution)["outcome"] == "compressed"
    assert stored(execution)["result"]["key"] == "retry.jpg"
    assert states_entered(stack, execution["executionArn"])[-4:] == WINNER_TAIL
    assert len(stack.notifications()) == 1
    assert json.loads(execution["input"])["detail"]["object"]["key"] == "retry.jpg"


@pytest.mark.parametrize("concurrent", [False, True], ids=["sequential", "concurrent"])
def test_a_duplicate_event_for_a_bad_upload_is_quarantined_and_reported_once(concurrent):
    broken = sample("broken/truncated.jpg")
    with EmbeddedStack() as stack:
        if concurrent:
            hold_until_all_arrive(stack, "QuarantineOriginalFunction", 2)
        stack.upload("dup/broken.jpg", broken)
        if not concurrent:
            stack.wait()
        start_duplicates(stack, 1)
        executions = stack.wait()
        assert [e["status"] for e in executions] == ["FAILED", "FAILED"]
        assert {e["error"] for e in executions} == {"InvalidImageError"}
        duplicates = [output_of_quarantine(stack, e)["duplicate"] for e in executions]
        assert sorted(duplicates) == [False, True]
        versions = stack.s3.list_object_versions(
            Bucket=stack.failed_bucket, Prefix="dup/broken.jpg"
        )["Versions"]
        assert len(versions) == 1, "one quarantined copy per upload"
        assert stack.read(stack.failed_bucket, "dup/broken.jpg") == broken
        notes = stack.notifications()
        assert [n["attributes"]["status"] for n in notes] == ["FAILED"]


def output_of_quarantine(stack: EmbeddedStack, execution: dict) -> dict:
    """The Quarantine original state's output (a FAILED execution has no output)."""
    for event in stack.history(execution["executionArn"]):
        details = event.get("stateExitedEventDetails")
        if details and details["name"] == "Quarantine original":
            return json.loads(details["output"])["quarantined"]
    raise AssertionError("never quarantined")
