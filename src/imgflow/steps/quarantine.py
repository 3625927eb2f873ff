"""QuarantineOriginal: keep a byte-identical copy of a failed original, with the reason.

The copy is a server-side copy of the exact version that failed, so the bytes
are the original's, whatever its size. It is written conditionally, like
StoreResult's results: the failed bucket holds at most one copy per source
version, and a duplicate execution of the same upload (an event delivered
twice) finds the copy, reports ``duplicate`` and is not notified again.
"""

from __future__ import annotations

from urllib.parse import quote

from imgflow.contract import (
    META_ERROR_MESSAGE,
    META_ERROR_TYPE,
    META_EXECUTION,
    META_SOURCE_ETAG,
    ObjectRef,
    Quarantined,
    State,
    StatesError,
)
from imgflow.errors import InvalidEventError, TransientError, WriteConflictError
from imgflow.settings import QuarantineSettings
from imgflow.storage import ObjectStore, StoredObject
from imgflow.trigger import source_of

# S3 user metadata is ASCII and at most 2 KB in all.
_MAX_MESSAGE = 1024
_ATTEMPTS = 5


def quarantine(
    state: State, execution: str | None, settings: QuarantineSettings, store: ObjectStore
) -> Quarantined:
    """Copy the original to the failed bucket; the source is never modified."""
    error = (state.error or StatesError()).info()
    try:
        source = source_of(state)
    except InvalidEventError:
        # The event named no object: there is nothing to keep, only to report.
        return Quarantined(source=None, error=error, execution=execution)
    original = store.head(source.bucket, source.key, source.version_id)
    if original is None:
        return Quarantined(source=source, error=error, execution=execution)
    metadata = {
        **original.metadata,
        META_ERROR_TYPE: ascii_metadata(error.type),
        META_ERROR_MESSAGE: ascii_metadata(error.message)[:_MAX_MESSAGE],
        META_EXECUTION: execution or "",
        META_SOURCE_ETAG: original.ref.etag or "",
    }
    bucket, key = settings.failed_bucket, source.key
    for _ in range(_ATTEMPTS):
        current = store.head(bucket, key)
        if current is not None and _same_source(current, original.ref):
            duplicate = current.metadata.get(META_EXECUTION) != (execution or "")
            return Quarantined(
                source=original.ref,
                error=error,
                copied=current.ref,
                execution=execution,
                duplicate=duplicate,
            )
        try:
            copy = store.copy(
                original.ref,
                bucket,
                key,
                metadata=metadata,
                content_type=original.content_type,
                if_match=current.ref.etag if current else None,
                if_none_match=current is None,
            )
        except WriteConflictError:
            continue  # another execution wrote the key meanwhile: look again
        return Quarantined(source=original.ref, error=error, copied=copy, execution=execution)
    raise TransientError(f"s3://{bucket}/{key} kept changing under {_ATTEMPTS} conditional copies")


def _same_source(current: StoredObject, source: ObjectRef) -> bool:
    """True when the failed bucket already holds a copy of this very upload."""
    return bool(source.etag and current.metadata.get(META_SOURCE_ETAG) == source.etag)


def ascii_metadata(text: str) -> str:
    """Percent-encode what S3 metadata cannot carry (non-ASCII, control characters)."""
    return quote(text, safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~")
