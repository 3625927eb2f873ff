"""Every path of statemachine/compress_image.asl.json, on the embedded runtime."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image
from workflow_support import output, sample, states_entered, story

from imgflow import errors
from imgflow.contract import META_ERROR_TYPE, META_EXECUTION, META_MARKER, META_SOURCE_ETAG
from imgflow.imaging.quality import score_bytes
from imgflow_toolkit.local import moto_patches
from imgflow_toolkit.local.moto_patches import LambdaServiceFault

BEFORE_COMPRESS = ["Validate image", "Already compressed?", "Large image?"]
HAPPY_PATH = [
    *BEFORE_COMPRESS,
    "Compress image",
    "Store result",
    "Stored?",
    "Notify success",
    "Done",
]
FAILURE_TAIL = ["Quarantine original", "Notify failure", "Failed"]


def only(items):
    assert len(items) == 1, items
    return items[0]


def decoded(data: bytes) -> Image.Image:
    import io

    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("key", ["photos/harbour.jpg", "photos/chart.png"])
def test_image_is_compressed_stored_with_provenance_and_notified(stack, key):
    original = sample(key)
    stack.upload(key, original)
    execution = only(stack.wait())
    assert execution["status"] == "SUCCEEDED"
    assert states_entered(stack, execution["executionArn"]) == HAPPY_PATH
    result = stack.read(stack.result_bucket, key)
    assert len(result) < len(original)
    before, after = decoded(original), decoded(result)
    assert after.size == before.size
    if key.endswith(".png"):  # PNGs are optimised losslessly in every mode
        assert after.convert("RGB").tobytes() == before.convert("RGB").tobytes()
    else:  # the default mode: lossy, guarded by the default target
        assert score_bytes(original, result) >= 85.0
    head = stack.s3.head_object(Bucket=stack.result_bucket, Key=key)
    assert head["Metadata"][META_SOURCE_ETAG] == hashlib.md5(original).hexdigest()
    assert head["ContentType"] in ("image/jpeg", "image/png")
    assert stack.read(stack.source_bucket, key) == original, "destination mode never touches it"
    note = only(stack.notifications())
    assert note["attributes"]["status"] == "SUCCEEDED"
    assert note["body"]["bytes_out"] == len(result)
    staging = [k for k in stack.keys(stack.result_bucket) if k.startswith("_imgflow-staging/")]
    assert staging == [], "the staged copy is removed once stored"


def test_key_with_spaces_and_unicode_keeps_its_exact_name(stack):
    key = "holiday snaps/a b+c(1)/straße ü.jpg"
    stack.upload(key, sample("photos/harbour.jpg"))
    assert only(stack.wait())["status"] == "SUCCEEDED"
    assert stack.keys(stack.result_bucket) == [key]


def test_truncated_jpeg_is_quarantined_byte_identical_and_notified(stack):
    broken = sample("broken/truncated.jpg")
    stack.upload("in/truncated.jpg", broken)
    execution = only(stack.wait())
    assert execution["status"] == "FAILED"
    assert execution["error"] == "InvalidImageError"
    assert states_entered(stack, execution["executionArn"]) == ["Validate image", *FAILURE_TAIL]
    assert stack.read(stack.failed_bucket, "in/truncated.jpg") == broken
    head = stack.s3.head_object(Bucket=stack.failed_bucket, Key="in/truncated.jpg")
    assert head["Metadata"][META_ERROR_TYPE] == "InvalidImageError"
    assert head["Metadata"][META_EXECUTION] == execution["executionArn"]
    assert stack.read(stack.source_bucket, "in/truncated.jpg") == broken
    assert stack.keys(stack.result_bucket) == []
    note = only(stack.notifications())
    assert note["attributes"] == {
        "status": "FAILED",
        "outcome": "rejected",
        "error_type": "InvalidImageError",
    }
    assert "truncated" in note["body"]["error"]["message"]
    assert ("ValidateImageFunction", "InvalidImageError") in stack.invocations
    assert stack.invocations.count(("ValidateImageFunction", "InvalidImageError")) == 1, (
        "a permanent error is never retried"
    )


@pytest.mark.parametrize(
    "fault",
    [
        errors.TransientError("S3 SlowDown"),
        LambdaServiceFault("Lambda.ServiceException"),
        LambdaServiceFault("Sandbox.Timedout"),
    ],
    ids=["transient-s3", "lambda-service", "lambda-timeout"],
)
def test_transient_fault_in_compress_is_retried_and_the_execution_succeeds(stack, fault):
    calls = []

    def fail_once(event):
        calls.append(event)
        if len(calls) == 1:
            raise fault

    stack.inject("CompressImageFunction", fail_once)
    stack.upload("photos/harbour.jpg", sample("photos/harbour.jpg"))
    execution = only(stack.wait())
    assert execution["status"] == "SUCCEEDED"
    assert len(calls) == 2
    delay = only(moto_patches.retry_delays)
    assert delay.state_name == "Compress image"
    assert 0 <= delay.seconds <= 2, "FULL jitter on a 2 s first interval"
    assert only(stack.notifications())["attributes"]["status"] == "SUCCEEDED"


def test_exhausted_retries_quarantine_the_original(stack):
    def always(event):
        raise errors.TransientError("S3 SlowDown, again")

    stack.inject("StoreResultFunction", always)
    original = sample("photos/chart.png")
    stack.upload("chart.png", original)
    execution = only(stack.wait())
    assert execution["status"] == "FAILED"
    assert execution["error"] == "TransientError"
    assert len([d for d in moto_patches.retry_delays if d.state_name == "Store result"]) == 4
    assert stack.read(stack.failed_bucket, "chart.png") == original
    assert only(stack.notifications())["attributes"]["outcome"] == "error"


@pytest.mark.parametrize(
    "function, path",
    [
        ("ValidateImageFunction", ["Validate image"]),
        ("CompressImageFunction", [*BEFORE_COMPRESS, "Compress image"]),
        ("StoreResultFunction", [*BEFORE_COMPRESS, "Compress image", "Store result"]),
        ("NotifyFunction", HAPPY_PATH[:-1]),
    ],
)
def test_a_permanent_error_in_any_task_is_caught_and_quarantined(stack, function, path):
    def reject(event):
        if function != "NotifyFunction" or event.get("status") == "SUCCEEDED":
            raise errors.UnsupportedFormatError("injected")

    stack.inject(function, reject)
    stack.upload("harbour.jpg", sample("photos/harbour.jpg"))
    execution = only(stack.wait())
    assert execution["status"] == "FAILED"
    assert execution["error"] == "UnsupportedFormatError"
    assert states_entered(stack, execution["executionArn"]) == [*path, *FAILURE_TAIL]
    assert stack.read(stack.failed_bucket, "harbour.jpg") == sample("photos/harbour.jpg")
    assert stack.read(stack.source_bucket, "harbour.jpg") == sample("photos/harbour.jpg")


def test_failed_quarantine_still_notifies_and_leaves_the_original_in_place(stack):
    def broken_failed_bucket(event):
        raise errors.TransientError("failed bucket unreachable")

    stack.inject("QuarantineOriginalFunction", broken_failed_bucket)
    broken = sample("broken/truncated.jpg")
    stack.upload("t.jpg", broken)
    execution = only(stack.wait())
    assert execution["status"] == "FAILED"
    assert execution["error"] == "InvalidImageError", "the original error, not the quarantine's"
    assert stack.keys(stack.failed_bucket) == []
    assert stack.read(stack.source_bucket, "t.jpg") == broken
    note = only(stack.notifications())
    assert note["body"]["extra"]["quarantine_error"]["type"] == "TransientError"


def test_failed_failure_notification_still_ends_failed(stack):
    def mute(event):
        raise errors.TransientError("SNS down")

    stack.inject("NotifyFunction", mute)
    stack.upload("t.jpg", sample("broken/truncated.jpg"))
    execution = only(stack.wait())
    assert execution["status"] == "FAILED"
    assert states_entered(stack, execution["executionArn"])[-3:] == FAILURE_TAIL
    assert stack.read(stack.failed_bucket, "t.jpg") == sample("broken/truncated.jpg")


def test_duplicate_event_writes_one_result_and_one_notification(stack):
    stack.upload("harbour.jpg", sample("photos/harbour.jpg"))
    first = only(stack.wait())
    stack.sfn.start_execution(stateMachineArn=stack.state_machine_arn, input=first["input"])
    executions = stack.wait()
    assert [e["status"] for e in executions] == ["SUCCEEDED", "SUCCEEDED"]
    duplicate = next(e for e in executions if e["executionArn"] != first["executionArn"])
    assert output(duplicate)["validated"]["reason"] == "already_processed"
    assert states_entered(stack, duplicate["executionArn"]) == [
        "Validate image",
        "Already compressed?",
        "Skipped",
    ]
    assert stack.keys(stack.result_bucket) == ["harbour.jpg"]
    assert len(stack.notifications()) == 1
    assert [f for f, _ in stack.invocations].count("CompressImageFunction") == 1


def test_in_place_replacement_does_not_loop(in_place_stack):
    stack = in_place_stack
    original = sample("photos/harbour.jpg")
    stack.upload("harbour.jpg", original)
    executions = stack.wait()
    told = story(stack, executions)
    assert [e["status"] for e in executions] == ["SUCCEEDED", "SUCCEEDED"], told
    # The replacement is itself an upload: it starts one execution, which skips it.
    assert sorted(output(e)["validated"]["reason"] or "compressed" for e in executions) == [
        "compressed",
        "our_output",
    ], told
    assert [f for f, _ in stack.invocations].count("CompressImageFunction") == 1, told
    replaced = stack.s3.head_object(Bucket=stack.source_bucket, Key="harbour.jpg")
    assert replaced["Metadata"][META_MARKER] == "1"
    versions = stack.s3.list_object_versions(Bucket=stack.source_bucket, Prefix="harbour.jpg")
    assert len(versions["Versions"]) == 2, "the original stays recoverable as a version"
    (oldest,) = [v for v in versions["Versions"] if not v["IsLatest"]]
    kept = stack.s3.get_object(
        Bucket=stack.source_bucket, Key="harbour.jpg", VersionId=oldest["VersionId"]
    )["Body"].read()
    assert kept == original
    assert len(stack.notifications()) == 1


def test_in_place_never_overwrites_a_newer_upload(in_place_stack):
    stack = in_place_stack
    newer = sample("photos/chart.png")

    def user_uploads_again(event):
        if not stack.invocations or stack.invocations.count(("StoreResultFunction", "ok")) == 0:
            stack.inject("StoreResultFunction", None)
            stack.upload("pic.png", newer)

    stack.inject("StoreResultFunction", user_uploads_again)
    stack.upload("pic.png", sample("photos/icon.png"))
    stack.wait()
    current = stack.s3.get_object(Bucket=stack.source_bucket, Key="pic.png")
    assert current["Metadata"].get(META_MARKER) == "1", "the newer upload was compressed itself"
    assert decoded(current["Body"].read()).size == decoded(newer).size


def test_in_place_duplicate_event_is_skipped_before_compressing_again(in_place_stack):
    stack = in_place_stack
    stack.upload("again.jpg", sample("photos/harbour.jpg"))
    first = min(stack.wait(), key=lambda e: e["startDate"])
    # The event names the original's version, which still exists under the replacement.
    stack.sfn.start_execution(stateMachineArn=stack.state_machine_arn, input=first["input"])
    duplicate = max(stack.wait(), key=lambda e: e["startDate"])
    assert output(duplicate)["validated"]["reason"] == "our_output"
    assert [f for f, _ in stack.invocations].count("CompressImageFunction") == 1
    assert len(stack.notifications()) == 1


def test_an_image_above_large_image_pixels_is_compressed_by_the_large_function(repo):
    from imgflow_toolkit.local.runtime import EmbeddedStack

    original = sample("photos/harbour.jpg")  # 960x640 = 614,400 pixels
    with EmbeddedStack(repo / "template.yaml", {"LargeImagePixels": "600000"}) as stack:
        stack.upload("photos/harbour.jpg", original)
        execution = only(stack.wait())
        assert execution["status"] == "SUCCEEDED"
        path = states_entered(stack, execution["executionArn"])
        assert path == [*BEFORE_COMPRESS, "Compress large image", *HAPPY_PATH[4:]]
        compressed = [f for f, _ in stack.invocations if f.startswith("Compress")]
        assert compressed == ["CompressLargeImageFunction"]
        result = stack.read(stack.result_bucket, "photos/harbour.jpg")
        assert len(result) < len(original)
        assert score_bytes(original, result) >= 85.0  # lossy, whatever the size


def test_the_embedded_s3_keeps_large_objects_on_disk(stack):
    """A photograph's bytes wait in a temporary file, not in the runner's memory
    (a local backfill's page of objects waits in the source bucket)."""
    import os

    from moto.s3.models import s3_backends

    from imgflow_toolkit.cloudformation import ACCOUNT
    from imgflow_toolkit.local.runtime import OBJECT_IN_MEMORY

    assert os.environ["MOTO_S3_DEFAULT_KEY_BUFFER_SIZE"] == str(OBJECT_IN_MEMORY)
    bucket = stack.spec.buckets["FailedBucket"]
    stack.s3.put_object(Bucket=bucket, Key="small", Body=b"x" * (OBJECT_IN_MEMORY // 2))
    stack.s3.put_object(Bucket=bucket, Key="large", Body=b"x" * (OBJECT_IN_MEMORY * 2))
    keys = s3_backends[ACCOUNT]["aws"].get_bucket(bucket).keys
    assert not keys["small"]._value_buffer._rolled
    assert keys["large"]._value_buffer._rolled  # a temporary file on disk
    assert stack.read(bucket, "large") == b"x" * (OBJECT_IN_MEMORY * 2)
