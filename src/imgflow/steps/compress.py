"""CompressImage: optimise one image and stage the result (never bytes in the state)."""

from __future__ import annotations

import hashlib

from imgflow.contract import (
    META_SOURCE_ETAG,
    Compression,
    ImageInfo,
    ObjectRef,
    Outcome,
    content_type,
)
from imgflow.imaging.compress import compress
from imgflow.imaging.validate import follow_pixel_limit
from imgflow.settings import CompressSettings
from imgflow.storage import ObjectStore


def compress_image(
    source: ObjectRef, image: ImageInfo, settings: CompressSettings, store: ObjectStore
) -> Compression:
    """Compress the source; stage the result unless the original is already smallest."""
    data = store.read(source, settings.limits.max_bytes)
    # This runs in its own Lambda: Pillow must accept what validation accepted.
    follow_pixel_limit(settings.limits)
    result = compress(
        data,
        image,
        mode=settings.mode,
        metadata_policy=settings.metadata_policy,
        quality_target=settings.quality_target,
    )
    staged = None
    if result.outcome == Outcome.COMPRESSED:
        staged = store.write(
            settings.result_bucket,
            staging_key(settings.staging_prefix, source),
            result.data,
            content_type=content_type(result.format),
            metadata={META_SOURCE_ETAG: source.etag or ""},
        )
    return Compression(
        source=source,
        outcome=result.outcome,
        method=result.method,
        format=result.format,
        bytes_in=result.bytes_in,
        bytes_out=result.bytes_out,
        staged=staged,
        score=result.score,
    )


def staging_key(prefix: str, source: ObjectRef) -> str:
    """A bounded, deterministic staging key (a retry overwrites its own attempt).

    It has no image suffix, so the upload rule never matches it.
    """
    identity = f"{source.bucket}/{source.key}@{source.version_id or source.etag}"
    return prefix + hashlib.sha256(identity.encode()).hexdigest()
