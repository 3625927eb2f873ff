"""Every branch of StoreResult (imgflow.steps.store), on the in-memory object store.

Races between duplicate executions, newer uploads and retries are scripted
with ``store.before(...)``: the competing request lands just before this
step's own conditional write, so each interleaving runs the same way every
time.
"""

from __future__ import annotations

import pytest

from deployment import function_environment
from imgflow.contract import (
    META_EXECUTION,
    META_MARKER,
    META_SOURCE_ETAG,
    Compression,
    ObjectRef,
    Outcome,
    SkipReason,
)
from imgflow.errors import ObjectNotFoundError, TransientError
from imgflow.settings import StoreSettings
from imgflow.steps.compress import staging_key
from imgflow.steps.store import store_result
from memory_store import InMemoryObjectStore

SOURCE, DESTINATION = "uploads", "results"
KEY = "photos/harbour.jpg"
ORIGINAL = b"original image bytes " * 20
SMALLER = b"smaller image"
MINE = "arn:aws:states:us-east-1:123456789012:execution:ImageWorkflow:mine"
OTHER = "arn:aws:states:us-east-1:123456789012:execution:ImageWorkflow:duplicate"
STAGING_PREFIX = function_environment("CompressImageFunction")["STAGING_PREFIX"]


def settings(in_place: bool = False) -> StoreSettings:
    return StoreSettings.from_env(
        function_environment(
            "StoreResultFunction",
            SOURCE_BUCKET=SOURCE,
            DESTINATION_BUCKET=DESTINATION,
            IN_PLACE=str(in_place).lower(),
        )
    )


def upload(store: InMemoryObjectStore, data: bytes = ORIGINAL) -> ObjectRef:
    return store.put(SOURCE, KEY, data, content_type="image/jpeg")


def compressed(
    store: InMemoryObjectStore, source: ObjectRef, config: StoreSettings, kept: bool = False
) -> Compression:
    """What CompressImage hands over: a staged result, or none when the original is kept."""
    staged = None
    if not kept:
        staged = store.write(
            config.result_bucket,
            staging_key(STAGING_PREFIX, source),
            SMALLER,
            content_type="image/jpeg",
            metadata={META_SOURCE_ETAG: source.etag or ""},
        )
    return Compression(
        source=source,
        outcome=Outcome.KEPT_ORIGINAL if kept else Outcome.COMPRESSED,
        method="jpeg-test",
        format="JPEG",
        bytes_in=len(ORIGINAL),
        bytes_out=len(ORIGINAL if kept else SMALLER),
        staged=staged,
    )


# -- destination mode --------------------------------------------------------


def test_result_is_written_once_with_its_provenance_and_the_staged_copy_removed():
    store = InMemoryObjectStore()
    config = settings()
    work = compressed(store, upload(store), config)

    stored = store_result(work, config, store, MINE)

    assert stored.outcome == Outcome.COMPRESSED and stored.reason is None
    assert stored.result == store.head(DESTINATION, KEY).ref
    assert store.bytes_of(DESTINATION, KEY) == SMALLER
    meta = store.head(DESTINATION, KEY).metadata
    assert meta[META_MARKER] == "1"
    assert meta[META_SOURCE_ETAG] == work.source.etag
    assert meta[META_EXECUTION] == MINE
    assert store.head(DESTINATION, work.staged.key) is None
    assert store.bytes_of(SOURCE, KEY) == ORIGINAL, "destination mode never touches the source"


def test_kept_original_is_published_to_the_destination_as_it_is():
    store = InMemoryObjectStore()
    config = settings()
    work = compressed(store, upload(store), config, kept=True)

    stored = store_result(work, config, store, MINE)

    assert stored.outcome == Outcome.KEPT_ORIGINAL
    assert store.bytes_of(DESTINATION, KEY) == ORIGINAL
    assert store.head(DESTINATION, KEY).content_type == "image/jpeg"


def test_result_of_an_older_upload_of_the_key_is_replaced():
    store = InMemoryObjectStore()
    config = settings()
    store_result(compressed(store, upload(store, b"older upload"), config), config, store, OTHER)
    work = compressed(store, upload(store), config)

    stored = store_result(work, config, store, MINE)

    assert stored.outcome == Outcome.COMPRESSED
    assert store.head(DESTINATION, KEY).metadata[META_SOURCE_ETAG] == work.source.etag


@pytest.mark.parametrize("in_place", [False, True], ids=["destination", "in-place"])
def test_retry_of_this_step_after_it_wrote_returns_its_own_result(in_place: bool):
    store = InMemoryObjectStore(versioned={SOURCE} if in_place else set())
    config = settings(in_place=in_place)
    work = compressed(store, upload(store), config)
    first = store_result(work, config, store, MINE)

    again = store_result(work, config, store, MINE)

    assert again.outcome == Outcome.COMPRESSED
    assert again.result == first.result


def test_duplicate_execution_that_stored_first_makes_this_one_skip():
    store = InMemoryObjectStore()
    config = settings()
    work = compressed(store, upload(store), config)
    store_result(work, config, store, OTHER)

    stored = store_result(work, config, store, MINE)

    assert stored.outcome == Outcome.SKIPPED
    assert stored.reason == SkipReason.ALREADY_PROCESSED
    assert stored.result is None
    assert store.head(DESTINATION, KEY).metadata[META_EXECUTION] == OTHER


def test_duplicate_that_writes_between_the_check_and_the_copy_wins_and_this_one_skips():
    store = InMemoryObjectStore()
    config = settings()
    work = compressed(store, upload(store), config)
    # The duplicate's copy lands first (its staged object is not yet removed).
    provenance = {META_MARKER: "1", META_SOURCE_ETAG: work.source.etag, META_EXECUTION: OTHER}
    store.before("copy", DESTINATION, KEY, lambda: store.put(DESTINATION, KEY, SMALLER, provenance))

    stored = store_result(work, config, store, MINE)

    assert stored.reason == SkipReason.ALREADY_PROCESSED
    assert store.head(DESTINATION, KEY).metadata[META_EXECUTION] == OTHER
    assert [c[0] for c in store.calls].count("copy") == 1, "this one's copy was refused"


def test_unrelated_writer_between_the_check_and_the_copy_is_looked_at_again():
    store = InMemoryObjectStore()
    config = settings()
    work = compressed(store, upload(store), config)
    store.before("copy", DESTINATION, KEY, lambda: store.put(DESTINATION, KEY, b"someone's file"))

    stored = store_result(work, config, store, MINE)

    assert stored.outcome == Outcome.COMPRESSED
    assert store.bytes_of(DESTINATION, KEY) == SMALLER
    assert [c[0] for c in store.calls].count("copy") == 2


def test_staged_copy_removed_by_a_duplicate_that_stored_it_makes_this_one_skip():
    store = InMemoryObjectStore()
    config = settings()
    work = compressed(store, upload(store), config)
    # The duplicate copies the same staged object and deletes it; this copy's source is gone.
    store.before("copy", DESTINATION, KEY, lambda: store_result(work, config, store, OTHER))

    stored = store_result(work, config, store, MINE)

    assert stored.reason == SkipReason.ALREADY_PROCESSED


def test_staged_copy_gone_without_any_result_is_an_error_not_a_silent_skip():
    store = InMemoryObjectStore()
    config = settings()
    work = compressed(store, upload(store), config)
    store.before("copy", DESTINATION, KEY, lambda: store.delete(DESTINATION, work.staged.key))

    with pytest.raises(ObjectNotFoundError):
        store_result(work, config, store, MINE)
    assert store.head(DESTINATION, KEY) is None


def test_a_key_that_keeps_changing_is_left_to_the_state_machines_retry():
    store = InMemoryObjectStore()
    config = settings()
    work = compressed(store, upload(store), config)
    for n in range(5):
        store.before("copy", DESTINATION, KEY, lambda n=n: store.put(DESTINATION, KEY, b"v%d" % n))

    with pytest.raises(TransientError, match="kept changing under 5 conditional copies"):
        store_result(work, config, store, MINE)


def test_newer_upload_since_validation_makes_this_one_skip_superseded():
    store = InMemoryObjectStore()
    config = settings()
    work = compressed(store, upload(store), config)
    upload(store, b"a newer photo under the same key")

    stored = store_result(work, config, store, MINE)

    assert stored.reason == SkipReason.SUPERSEDED
    assert store.head(DESTINATION, KEY) is None
    assert store.head(DESTINATION, work.staged.key) is None, "the staged copy is still removed"


def test_source_deleted_since_validation_makes_this_one_skip_superseded():
    store = InMemoryObjectStore()
    config = settings()
    work = compressed(store, upload(store), config)
    store.delete(SOURCE, KEY)

    assert store_result(work, config, store, MINE).reason == SkipReason.SUPERSEDED
    assert store.head(DESTINATION, KEY) is None


# -- in-place mode -------------------------------------------------------------


def test_in_place_replaces_the_unchanged_original_and_keeps_it_as_a_version():
    store = InMemoryObjectStore(versioned={SOURCE})
    config = settings(in_place=True)
    source = upload(store)
    work = compressed(store, source, config)

    stored = store_result(work, config, store, MINE)

    assert stored.outcome == Outcome.COMPRESSED
    assert store.bytes_of(SOURCE, KEY) == SMALLER
    assert store.head(SOURCE, KEY).metadata[META_MARKER] == "1"
    assert store.read(source, len(ORIGINAL)) == ORIGINAL, "the original stays recoverable"
    assert store.head(SOURCE, work.staged.key) is None


def test_in_place_kept_original_is_left_untouched():
    store = InMemoryObjectStore(versioned={SOURCE})
    config = settings(in_place=True)
    work = compressed(store, upload(store), config, kept=True)
    before = list(store.calls)

    stored = store_result(work, config, store, MINE)

    assert stored.result == work.source
    assert store.calls == before, "no request at all"


def test_in_place_never_overwrites_a_newer_upload():
    store = InMemoryObjectStore(versioned={SOURCE})
    config = settings(in_place=True)
    work = compressed(store, upload(store), config)
    newer = b"a newer photo under the same key"
    store.before("copy", SOURCE, KEY, lambda: upload(store, newer))

    stored = store_result(work, config, store, MINE)

    assert stored.reason == SkipReason.SUPERSEDED
    assert store.bytes_of(SOURCE, KEY) == newer


def test_in_place_duplicate_that_replaced_first_makes_this_one_skip():
    store = InMemoryObjectStore(versioned={SOURCE})
    config = settings(in_place=True)
    work = compressed(store, upload(store), config)
    store_result(work, config, store, OTHER)

    stored = store_result(work, config, store, MINE)

    assert stored.reason == SkipReason.ALREADY_PROCESSED
    assert len(store.versions(SOURCE, KEY)) == 2, "the original and one replacement"


def test_in_place_original_deleted_since_validation_makes_this_one_skip():
    store = InMemoryObjectStore(versioned={SOURCE})
    config = settings(in_place=True)
    work = compressed(store, upload(store), config)
    store.delete(SOURCE, KEY)

    stored = store_result(work, config, store, MINE)

    assert stored.reason == SkipReason.SUPERSEDED
    assert store.head(SOURCE, KEY) is None, "nothing resurrected under the deleted key"
