"""Every branch of QuarantineOriginal (imgflow.steps.quarantine), on the in-memory store.

The state is events/quarantine.json's, the event a Catch hands over; the
original is samples/broken/truncated.jpg, the object that event names.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from deployment import function_environment
from imgflow.contract import (
    META_ERROR_MESSAGE,
    META_ERROR_TYPE,
    META_EXECUTION,
    META_SOURCE_ETAG,
    State,
)
from imgflow.errors import TransientError
from imgflow.settings import QuarantineSettings
from imgflow.steps.quarantine import quarantine
from memory_store import InMemoryObjectStore

REPO = Path(__file__).resolve().parents[2]
EVENT = json.loads((REPO / "events" / "quarantine.json").read_text())
SOURCE, FAILED = "imgflow-sourcebucket", "imgflow-failedbucket"
KEY = "broken/truncated.jpg"
ORIGINAL = (REPO / "samples" / KEY).read_bytes()
MINE = EVENT["execution"]
OTHER = MINE.replace("sample-execution", "duplicate-execution")
SETTINGS = QuarantineSettings.from_env(
    function_environment("QuarantineOriginalFunction", FAILED_BUCKET=FAILED)
)


def state_data() -> dict:
    return copy.deepcopy(EVENT["state"])


def state() -> State:
    return State.model_validate(state_data())


@pytest.fixture
def store() -> InMemoryObjectStore:
    store = InMemoryObjectStore()
    store.put(SOURCE, KEY, ORIGINAL, {"owner": "cms"}, "image/jpeg")
    return store


def test_original_is_copied_byte_for_byte_with_the_reason_and_left_in_place(store):
    result = quarantine(state(), MINE, SETTINGS, store)

    assert store.bytes_of(FAILED, KEY) == ORIGINAL
    assert store.bytes_of(SOURCE, KEY) == ORIGINAL
    copied = store.head(FAILED, KEY)
    assert result.copied == copied.ref and not result.duplicate
    assert copied.content_type == "image/jpeg"
    assert copied.metadata["owner"] == "cms", "the original's own metadata is kept"
    assert copied.metadata[META_ERROR_TYPE] == "InvalidImageError"
    assert "truncated" in copied.metadata[META_ERROR_MESSAGE]
    assert copied.metadata[META_EXECUTION] == MINE
    assert copied.metadata[META_SOURCE_ETAG] == result.source.etag
    assert result.error.type == "InvalidImageError"


def test_a_message_s3_metadata_cannot_carry_is_encoded_and_cut(store):
    failing = state_data()
    cause = {"errorType": "InvalidImageError", "errorMessage": "ünreadable\n" + "x" * 3000}
    failing["error"]["Cause"] = json.dumps(cause)

    quarantine(State.model_validate(failing), MINE, SETTINGS, store)

    message = store.head(FAILED, KEY).metadata[META_ERROR_MESSAGE]
    assert message.isascii() and len(message) == 1024
    assert message.startswith("%C3%BCnreadable%0A")


def test_an_event_that_names_no_object_is_reported_without_a_copy(store):
    result = quarantine(
        State.model_validate({"error": state_data()["error"]}), MINE, SETTINGS, store
    )

    assert result.source is None and result.copied is None
    assert result.error.type == "InvalidImageError"
    assert store.calls == []


def test_an_original_deleted_meanwhile_is_reported_without_a_copy(store):
    store.delete(SOURCE, KEY)

    result = quarantine(state(), MINE, SETTINGS, store)

    assert result.copied is None and result.source.key == KEY
    assert store.head(FAILED, KEY) is None


def test_duplicate_execution_finds_the_copy_and_is_marked_duplicate(store):
    quarantine(state(), OTHER, SETTINGS, store)

    result = quarantine(state(), MINE, SETTINGS, store)

    assert result.duplicate, "the duplicate must not notify again"
    assert store.head(FAILED, KEY).metadata[META_EXECUTION] == OTHER
    assert len(store.versions(FAILED, KEY)) == 1


def test_retry_of_this_execution_finds_its_own_copy_and_is_not_a_duplicate(store):
    first = quarantine(state(), MINE, SETTINGS, store)

    again = quarantine(state(), MINE, SETTINGS, store)

    assert not again.duplicate
    assert again.copied == first.copied


def test_copy_of_an_older_upload_of_the_key_is_replaced(store):
    store.put(FAILED, KEY, b"an older failed upload", {META_SOURCE_ETAG: "older"})

    result = quarantine(state(), MINE, SETTINGS, store)

    assert not result.duplicate
    assert store.bytes_of(FAILED, KEY) == ORIGINAL


def test_duplicate_that_copies_between_the_check_and_the_copy_wins(store):
    store.before("copy", FAILED, KEY, lambda: quarantine(state(), OTHER, SETTINGS, store))

    result = quarantine(state(), MINE, SETTINGS, store)

    assert result.duplicate
    assert store.head(FAILED, KEY).metadata[META_EXECUTION] == OTHER
    assert len(store.versions(FAILED, KEY)) == 1


def test_a_key_that_keeps_changing_is_left_to_the_state_machines_retry(store):
    for n in range(5):
        store.before("copy", FAILED, KEY, lambda n=n: store.put(FAILED, KEY, b"other %d" % n))

    with pytest.raises(TransientError, match="kept changing"):
        quarantine(state(), MINE, SETTINGS, store)
    assert store.bytes_of(SOURCE, KEY) == ORIGINAL
