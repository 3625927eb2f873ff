"""Each function's input model (imgflow.contract), as the handlers get it through
Powertools' Parser (imgflow.aws.parser), and the typed state Notify reads."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from imgflow.aws.parser import parse_input
from imgflow.contract import (
    CompressInput,
    NotifyInput,
    Outcome,
    QuarantineInput,
    State,
    Status,
    StoreInput,
    ValidateInput,
)
from imgflow.errors import InvalidEventError
from imgflow.steps.notify import already_reported, json_body, notification_for

REPO = Path(__file__).resolve().parents[2]


def sample(name: str) -> dict:
    return json.loads((REPO / "events" / name).read_text())


@pytest.mark.parametrize(
    "model, name",
    [
        (CompressInput, "compress.json"),
        (StoreInput, "store.json"),
        (QuarantineInput, "quarantine.json"),
        (NotifyInput, "notify-success.json"),
        (NotifyInput, "notify-failure.json"),
        (ValidateInput, "eventbridge-object-created.json"),
        (ValidateInput, "s3-put.json"),
    ],
)
def test_every_sample_event_parses_as_its_function_input(model, name):
    assert isinstance(parse_input(model, sample(name)), model)


def test_a_compress_event_without_its_image_names_the_missing_field():
    event = sample("compress.json")
    del event["image"]
    event["source"].pop("key")
    with pytest.raises(InvalidEventError) as caught:
        parse_input(CompressInput, event)
    message = str(caught.value)
    assert "CompressInput" in message
    assert "image: Field required" in message and "source.key: Field required" in message


def test_an_unknown_outcome_is_rejected_not_carried_on():
    event = sample("store.json")
    event["compressed"]["outcome"] = "squeezed"
    with pytest.raises(InvalidEventError, match=r"compressed\.outcome"):
        parse_input(StoreInput, event)


def test_a_notify_event_with_an_unknown_status_is_rejected():
    with pytest.raises(InvalidEventError, match="status"):
        parse_input(NotifyInput, sample("notify-failure.json") | {"status": "DONE"})


def test_a_non_object_event_is_rejected_clearly():
    with pytest.raises(InvalidEventError, match="ValidateInput"):
        parse_input(ValidateInput, [])


def test_validate_takes_the_trigger_bare_or_wrapped_with_the_execution():
    bare = sample("eventbridge-object-created.json")
    wrapped = parse_input(ValidateInput, {"event": bare, "execution": "arn:x"})
    assert wrapped.event == bare and wrapped.execution == "arn:x"
    assert parse_input(ValidateInput, bare) == ValidateInput(event=bare)


def test_the_state_keeps_the_triggering_event_beside_the_steps_keys():
    data = sample("notify-failure.json")["state"]
    state = State.model_validate(data)
    assert state.trigger["detail-type"] == "Object Created"
    assert state.trigger["source"] == "aws.s3"  # the event's own "source", not an ObjectRef
    assert state.error is not None and state.error.error == "InvalidImageError"
    assert state.validated is None and state.validated_format is None


def test_a_failed_quarantine_is_reported_from_the_typed_state():
    data = copy.deepcopy(sample("notify-failure.json")["state"])
    del data["quarantined"]
    data["quarantine_error"] = {"Error": "States.Timeout", "Cause": "took too long"}
    note = notification_for(Status.FAILED, State.model_validate(data), "arn:x")
    assert (note.status, note.outcome) == (Status.FAILED, Outcome.REJECTED)
    assert note.extra == {
        "quarantine_error": {"type": "States.Timeout", "message": "took too long"}
    }
    assert note.key == "broken/truncated.jpg"
    body = json.loads(json_body(note))
    assert (body["status"], body["outcome"]) == ("FAILED", "rejected")


def test_a_duplicate_failure_is_not_reported_twice():
    data = copy.deepcopy(sample("notify-failure.json")["state"])
    assert not already_reported(Status.FAILED, State.model_validate(data))
    data["quarantined"]["duplicate"] = True
    assert already_reported(Status.FAILED, State.model_validate(data))
    assert not already_reported(Status.SUCCEEDED, State.model_validate(data))
