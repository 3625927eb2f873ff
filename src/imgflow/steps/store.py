"""StoreResult: put the staged result at its final key, with its provenance.

Duplicate and racing executions are settled here, by S3 conditional writes,
because only the write itself is atomic (two executions of the same event can
both pass ValidateImage's "already processed?" check before either writes):

- destination mode: the result is created with ``If-None-Match: *``, or
  replaces an older result with ``If-Match`` on the ETag just read;
- in-place mode: the original is replaced with ``If-Match`` on its validated
  ETag, so a newer upload is never overwritten.

Both are server-side copies (of the staged result, or of the original when
it is kept), so no image bytes pass through this function.

Every result carries the source ETag and the execution that wrote it. A
write that loses re-reads the key: a result for the same source from another
execution means a duplicate won (this one ends Skipped, without notifying);
one from this very execution means an earlier attempt of this step wrote it
before failing (idempotent success); a newer source means this one is
superseded (Skipped).
"""

from __future__ import annotations

from imgflow.contract import (
    META_BYTES_IN,
    META_BYTES_OUT,
    META_EXECUTION,
    META_MARKER,
    META_METHOD,
    META_OUTCOME,
    META_SOURCE_ETAG,
    Compression,
    ObjectRef,
    Outcome,
    SkipReason,
    Stored,
    content_type,
)
from imgflow.errors import ObjectNotFoundError, TransientError, WriteConflictError
from imgflow.settings import StoreSettings
from imgflow.storage import ObjectStore, StoredObject

# Conditional-write attempts against a destination key that keeps changing
# (each loss means another writer made progress); then the state machine's
# own Retry takes over.
_ATTEMPTS = 5


def store_result(
    compressed: Compression,
    settings: StoreSettings,
    store: ObjectStore,
    execution: str | None = None,
) -> Stored:
    """Write the result exactly once per source version; see the module docstring."""
    source = compressed.source
    stored = Stored(
        source=source,
        outcome=compressed.outcome,
        bytes_in=compressed.bytes_in,
        bytes_out=compressed.bytes_out,
        method=compressed.method,
    )
    metadata = {
        META_MARKER: "1",
        META_SOURCE_ETAG: source.etag or "",
        META_METHOD: compressed.method,
        META_OUTCOME: compressed.outcome,
        META_BYTES_IN: str(compressed.bytes_in),
        META_BYTES_OUT: str(compressed.bytes_out),
        META_EXECUTION: execution or "",
    }
    mime = content_type(compressed.format)
    outcome: ObjectRef | SkipReason
    if not settings.in_place:
        outcome = _publish(compressed, settings, store, metadata, mime)
    elif compressed.staged is None:
        # Kept: the original already is the best version, and stays untouched.
        return stored.model_copy(update={"result": source})
    else:
        outcome = _replace_original(compressed.staged, source, store, metadata, mime)
    if compressed.staged is not None:
        store.delete(compressed.staged.bucket, compressed.staged.key)
    if isinstance(outcome, SkipReason):
        return stored.model_copy(update={"outcome": Outcome.SKIPPED, "reason": outcome})
    return stored.model_copy(update={"result": outcome})


def _replace_original(
    staged: ObjectRef,
    source: ObjectRef,
    store: ObjectStore,
    metadata: dict[str, str],
    mime: str,
) -> ObjectRef | SkipReason:
    try:
        # If-Match: a newer upload of the same key is never overwritten.
        return store.copy(
            staged,
            source.bucket,
            source.key,
            metadata=metadata,
            content_type=mime,
            if_match=source.etag,
        )
    except (WriteConflictError, ObjectNotFoundError):
        # Lost to another writer (or the staged copy went with the winner).
        current = store.head(source.bucket, source.key)
        return _settled(current, source, metadata) or SkipReason.SUPERSEDED


def _publish(
    compressed: Compression,
    settings: StoreSettings,
    store: ObjectStore,
    metadata: dict[str, str],
    mime: str,
) -> ObjectRef | SkipReason:
    """Destination mode: one best version of every accepted image, written once."""
    source = compressed.source
    # Kept originals are published as they are: the destination holds one best
    # version of every accepted image.
    origin = compressed.staged or source
    bucket, key = settings.result_bucket, source.key
    for _ in range(_ATTEMPTS):
        current = store.head(bucket, key)
        settled = _settled(current, source, metadata)
        if settled is not None:
            return settled
        if _superseded(source, store):
            # A newer upload (or a delete) replaced the source since it was
            # validated: that upload's own execution owns the result.
            return SkipReason.SUPERSEDED
        try:
            return store.copy(
                origin,
                bucket,
                key,
                metadata=metadata,
                content_type=mime,
                if_match=current.ref.etag if current else None,
                if_none_match=current is None,
            )
        except WriteConflictError:
            continue  # another writer got there first: look again
        except ObjectNotFoundError:
            # A duplicate execution stored (and removed) the same staged copy.
            settled = _settled(store.head(bucket, key), source, metadata)
            if settled is None:
                raise
            return settled
    raise TransientError(
        f"s3://{bucket}/{key} kept changing under {_ATTEMPTS} conditional copies; retrying later"
    )


def _settled(
    current: StoredObject | None, source: ObjectRef, metadata: dict[str, str]
) -> ObjectRef | SkipReason | None:
    """What an existing result at the key means for this execution, if it settles it."""
    if current is None or not current.metadata.get(META_MARKER):
        return None
    if not source.etag or current.metadata.get(META_SOURCE_ETAG) != source.etag:
        return None
    mine = metadata[META_EXECUTION]
    if mine and current.metadata.get(META_EXECUTION) == mine:
        return current.ref  # an earlier attempt of this very step wrote it
    return SkipReason.ALREADY_PROCESSED


def _superseded(source: ObjectRef, store: ObjectStore) -> bool:
    now = store.head(source.bucket, source.key)
    return now is None or bool(source.etag and now.ref.etag and now.ref.etag != source.etag)
