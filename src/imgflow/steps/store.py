"""StoreResult: put the staged result at its final key, with its provenance."""

from __future__ import annotations

from dataclasses import replace

from imgflow.contract import (
    META_BYTES_IN,
    META_BYTES_OUT,
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
from imgflow.errors import WriteConflictError
from imgflow.settings import Settings
from imgflow.storage import ObjectStore


def store_result(compressed: Compression, settings: Settings, store: ObjectStore) -> Stored:
    """Write the result; in place, only over the very original that was validated."""
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
    }
    mime = content_type(compressed.format)
    if settings.in_place:
        if compressed.staged is None:
            # Kept: the original already is the best version, and stays untouched.
            return replace(stored, result=source)
        try:
            result = _replace_original(compressed.staged, source, settings, store, metadata, mime)
        except WriteConflictError:
            store.delete(compressed.staged.bucket, compressed.staged.key)
            return replace(stored, outcome=Outcome.SKIPPED, reason=SkipReason.SUPERSEDED)
    else:
        # The destination holds one best version of every accepted image.
        origin = compressed.staged or source
        result = store.copy(
            origin, settings.result_bucket, source.key, metadata=metadata, content_type=mime
        )
    if compressed.staged is not None:
        store.delete(compressed.staged.bucket, compressed.staged.key)
    return replace(stored, result=result)


def _replace_original(
    staged: ObjectRef,
    source: ObjectRef,
    settings: Settings,
    store: ObjectStore,
    metadata: dict[str, str],
    mime: str,
) -> ObjectRef:
    data = store.read(staged, settings.limits.max_bytes)
    # If-Match: a newer upload of the same key is never overwritten.
    return store.write(
        source.bucket, source.key, data, content_type=mime, metadata=metadata, if_match=source.etag
    )
