"""ValidateImage: decide whether an upload is ours to compress, from its real bytes."""

from __future__ import annotations

from typing import Any

from imgflow.contract import META_MARKER, META_SOURCE_ETAG, SkipReason, Validation
from imgflow.imaging.validate import inspect
from imgflow.settings import ValidateSettings
from imgflow.storage import ObjectStore
from imgflow.trigger import source_from_event


def validate(event: Any, settings: ValidateSettings, store: ObjectStore) -> Validation:
    """Validation of the object the event names: skip, or its ImageInfo.

    Raises the permanent errors of imgflow.imaging.validate for bad images.
    """
    named = source_from_event(event)
    # The key's latest object, not the event's version: in place, an old version
    # stays readable under our replacement, and a duplicate event must see the latter.
    current = store.head(named.bucket, named.key)
    if current is None:
        # Deleted since the upload: nothing to compress, nothing to lose.
        return Validation(source=named, skip=True, reason=SkipReason.SOURCE_GONE)
    if current.metadata.get(META_MARKER):
        return Validation(source=current.ref, skip=True, reason=SkipReason.OUR_OUTPUT)
    if named.etag and current.ref.etag and named.etag != current.ref.etag:
        # A newer upload replaced it; that upload's own event processes it.
        return Validation(source=current.ref, skip=True, reason=SkipReason.SUPERSEDED)
    source = current.ref
    if not settings.in_place and _already_processed(source.key, source.etag, settings, store):
        return Validation(source=source, skip=True, reason=SkipReason.ALREADY_PROCESSED)
    data = store.read(source, settings.limits.max_bytes)
    image = inspect(data, settings.limits)
    large = image.width * image.height > settings.limits.large_pixels
    return Validation(source=source, image=image, large=large)


def _already_processed(
    key: str, etag: str | None, settings: ValidateSettings, store: ObjectStore
) -> bool:
    """True when the destination holds a result made from this very upload."""
    result = store.head(settings.result_bucket, key)
    return bool(result and etag and result.metadata.get(META_SOURCE_ETAG) == etag)
