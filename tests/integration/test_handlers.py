"""Each handler with its sample event from events/, against the embedded AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imgflow_toolkit.local.runtime import EmbeddedStack

REPO = Path(__file__).resolve().parents[2]
SAMPLE_KEYS = ["photos/harbour.jpg", "photos/holiday snaps/straße 1.jpg", "broken/truncated.jpg"]


@pytest.fixture(scope="module")
def stack():
    with EmbeddedStack(REPO / "template.yaml") as running:
        yield running


@pytest.fixture(autouse=True)
def seeded(stack):
    # Put the objects the events name, without starting the workflow: the
    # rule is disabled while seeding so each test drives one handler alone.
    rule = stack.spec.state_machine.rules[0].name
    stack.events.disable_rule(Name=rule)
    for key in SAMPLE_KEYS:
        stack.s3.put_object(
            Bucket=stack.source_bucket, Key=key, Body=(REPO / "samples" / key).read_bytes()
        )
    yield
    stack.events.enable_rule(Name=rule)


def invoke(stack: EmbeddedStack, logical_id: str, event_file: str) -> dict:
    event = json.loads((REPO / "events" / event_file).read_text())
    return stack.invoke(logical_id, event)


@pytest.mark.parametrize(
    "event_file, key",
    [
        ("eventbridge-object-created.json", "photos/harbour.jpg"),
        ("s3-put.json", "photos/holiday snaps/straße 1.jpg"),
    ],
)
def test_validate_accepts_both_event_shapes(stack, event_file, key):
    result = invoke(stack, "ValidateImageFunction", event_file)
    assert result["skip"] is False
    assert result["source"]["key"] == key
    assert result["image"]["format"] == "JPEG"


def test_compress_stages_a_smaller_jpeg_under_the_staging_prefix(stack):
    result = invoke(stack, "CompressImageFunction", "compress.json")
    assert result["outcome"] == "compressed"
    assert result["bytes_out"] < result["bytes_in"]
    staged = result["staged"]
    assert staged["key"].startswith("_imgflow-staging/")
    assert not staged["key"].endswith((".jpg", ".png")), "the upload rule must never match it"
    assert len(stack.read(staged["bucket"], staged["key"])) == result["bytes_out"]


def test_store_copies_a_kept_original_to_the_destination_as_it_is(stack):
    result = invoke(stack, "StoreResultFunction", "store.json")
    assert result["outcome"] == "kept_original"
    original = (REPO / "samples/photos/harbour.jpg").read_bytes()
    assert stack.read(stack.result_bucket, "photos/harbour.jpg") == original


def test_quarantine_copies_the_original_with_the_reason(stack):
    result = invoke(stack, "QuarantineOriginalFunction", "quarantine.json")
    assert result["error"]["type"] == "InvalidImageError"
    copy = stack.s3.head_object(Bucket=stack.failed_bucket, Key="broken/truncated.jpg")
    assert copy["Metadata"]["imgflow-error-type"] == "InvalidImageError"
    assert "truncated" in copy["Metadata"]["imgflow-error-message"]


@pytest.mark.parametrize(
    "event_file, status", [("notify-success.json", "SUCCEEDED"), ("notify-failure.json", "FAILED")]
)
def test_notify_publishes_for_people_and_programs(stack, event_file, status):
    before = len(stack.notifications())
    result = invoke(stack, "NotifyFunction", event_file)
    assert result["status"] == status and result["message_id"]
    note = stack.notifications()[before]
    assert note["attributes"]["status"] == status
    assert note["body"]["key"] in SAMPLE_KEYS
    assert note["subject"].startswith(f"imgflow {status.lower()}")


def test_validate_names_the_problem_for_an_event_without_an_object(stack):
    from imgflow.errors import InvalidEventError

    with pytest.raises(InvalidEventError, match="EventBridge"):
        stack.invoke("ValidateImageFunction", {"hello": "world"})


def test_compress_names_the_missing_field_of_a_malformed_event(stack):
    from imgflow.errors import InvalidEventError

    event = json.loads((REPO / "events/compress.json").read_text())
    del event["image"]
    with pytest.raises(InvalidEventError, match="CompressInput: image: Field required"):
        stack.invoke("CompressImageFunction", event)
