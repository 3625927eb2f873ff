"""``imgflow invoke``: every sample event through its function, without Docker."""

from __future__ import annotations

import json

import pytest

from imgflow_toolkit.cli import main
from imgflow_toolkit.commands.invoke import resolve_function

# Each file in events/ and the function it is the input of.
EVENT_FUNCTIONS = {
    "eventbridge-object-created.json": "validate",
    "s3-put.json": "validate",
    "compress.json": "compress",
    "store.json": "store",
    "notify-success.json": "notify",
    "notify-failure.json": "notify",
    "quarantine.json": "quarantine",
}


def test_every_sample_event_has_a_function(repo):
    assert sorted(p.name for p in (repo / "events").glob("*.json")) == sorted(EVENT_FUNCTIONS)


@pytest.mark.parametrize("event", sorted(EVENT_FUNCTIONS))
def test_each_sample_event_invokes_its_function_with_seeded_objects(repo, event, capsys):
    function = EVENT_FUNCTIONS[event]
    args = ["invoke", function, "--event", str(repo / "events" / event), "--seed"]
    assert main([*args, "--template", str(repo / "template.yaml")]) == 0
    response = json.loads(capsys.readouterr().out)
    assert isinstance(response, dict) and "errorType" not in response


def test_a_failing_handler_prints_its_error_type_and_exits_non_zero(repo, capsys):
    # Without --seed the object the event names does not exist.
    event = str(repo / "events" / "compress.json")
    assert main(["invoke", "CompressImageFunction", "--event", event]) == 1
    captured = capsys.readouterr()
    error = json.loads(captured.out)
    assert error["errorType"] == "ObjectNotFoundError"
    assert "photos/harbour.jpg" in error["errorMessage"]
    assert "CompressImageFunction failed: ObjectNotFoundError" in captured.err


def test_short_names_and_logical_ids_resolve_to_one_function():
    ids = ["ValidateImageFunction", "CompressImageFunction", "NotifyFunction"]
    assert resolve_function("validate", ids) == "ValidateImageFunction"
    assert resolve_function("Notify", ids) == "NotifyFunction"
    assert resolve_function("CompressImageFunction", ids) == "CompressImageFunction"
    with pytest.raises(LookupError, match="choose one of"):
        resolve_function("resize", ids)


def test_compress_means_the_standard_function_and_compress_large_the_other():
    ids = ["CompressImageFunction", "CompressLargeImageFunction", "StoreResultFunction"]
    assert resolve_function("compress", ids) == "CompressImageFunction"
    assert resolve_function("compress-large", ids) == "CompressLargeImageFunction"
    with pytest.raises(LookupError, match="matches several"):
        resolve_function("store", ["StoreAFunction", "StoreBFunction"])


def test_an_unreadable_event_is_reported_before_anything_runs(tmp_path, capsys):
    assert main(["invoke", "validate", "--event", str(tmp_path / "missing.json")]) == 2
    assert "cannot read the event" in capsys.readouterr().err
