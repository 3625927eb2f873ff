"""What the workflow needs from object storage, as a protocol.

The steps are written against this, so the core never imports boto3;
imgflow.aws.s3 implements it on S3 (and on moto, locally).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from imgflow.contract import ObjectRef


@dataclass(frozen=True)
class StoredObject:
    """An object's identity and its user metadata (x-amz-meta-*)."""

    ref: ObjectRef
    metadata: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None


class ObjectStore(Protocol):
    def head(self, bucket: str, key: str, version_id: str | None = None) -> StoredObject | None:
        """The object's current (or named) version, or None when it does not exist."""

    def read(self, ref: ObjectRef, max_bytes: int) -> bytes:
        """The object's bytes; ObjectNotFoundError if gone, ImageTooLargeError above max_bytes."""

    def write(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str | None,
        metadata: Mapping[str, str],
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> ObjectRef:
        """Store bytes; with if_match, only over that ETag; with if_none_match, only
        where no object exists (WriteConflictError otherwise)."""

    def copy(
        self,
        source: ObjectRef,
        bucket: str,
        key: str,
        *,
        metadata: Mapping[str, str],
        content_type: str | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> ObjectRef:
        """Server-side copy of one exact version, replacing its user metadata; the
        conditions apply to the destination, as in write()."""

    def delete(self, bucket: str, key: str) -> None:
        """Remove an object (no error if it is already gone)."""
