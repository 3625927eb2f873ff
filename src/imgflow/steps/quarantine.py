"""QuarantineOriginal: keep a byte-identical copy of a failed original, with the reason."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from imgflow.contract import (
    META_ERROR_MESSAGE,
    META_ERROR_TYPE,
    META_EXECUTION,
    ErrorInfo,
    Quarantined,
)
from imgflow.errors import InvalidEventError
from imgflow.settings import Settings
from imgflow.storage import ObjectStore
from imgflow.trigger import source_from_event

# S3 user metadata is ASCII and at most 2 KB in all.
_MAX_MESSAGE = 1024


def quarantine(
    state: dict[str, Any], execution: str | None, settings: Settings, store: ObjectStore
) -> Quarantined:
    """Copy the original to the failed bucket; the source is never modified."""
    error = ErrorInfo.from_states_error(state.get("error") or {})
    try:
        source = source_from_event(state)
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
    }
    copy = store.copy(
        original.ref,
        settings.failed_bucket,
        source.key,
        metadata=metadata,
        content_type=original.content_type,
    )
    return Quarantined(source=original.ref, error=error, copy=copy, execution=execution)


def ascii_metadata(text: str) -> str:
    """Percent-encode what S3 metadata cannot carry (non-ASCII, control characters)."""
    return quote(text, safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~")
