"""An in-memory twin of imgflow.aws.s3.S3ObjectStore, for unit tests without moto.

It keeps S3's semantics that the steps depend on: ETags are the MD5 of the
bytes (a server-side copy keeps its source's), versioned buckets keep every
version and a delete hides the key behind a marker, reads past the byte
limit raise ImageTooLargeError, and conditional writes behave as S3's do
(``If-None-Match: *`` over an existing key and ``If-Match`` on another ETag
raise WriteConflictError; ``If-Match`` on a missing key is NoSuchKey, i.e.
ObjectNotFoundError). tests/integration/test_object_store_contract.py runs
the same cases against S3ObjectStore on moto, so the twin cannot drift.

Races are scripted, not timed: ``before(operation, bucket, key, action)``
runs ``action`` just before the next ``operation`` on that key, as another
writer's request arriving first would. The step's own conditional write
then fails or succeeds exactly as it would on S3.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from imgflow.contract import ObjectRef
from imgflow.errors import ImageTooLargeError, ObjectNotFoundError, WriteConflictError
from imgflow.storage import StoredObject

Operation = str  # "head" | "read" | "write" | "copy" | "delete"


@dataclass(frozen=True)
class _Version:
    data: bytes
    etag: str
    version_id: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None

    def stored(self, bucket: str, key: str) -> StoredObject:
        ref = ObjectRef(
            bucket=bucket, key=key, etag=self.etag, version_id=self.version_id, size=len(self.data)
        )
        return StoredObject(ref=ref, metadata=dict(self.metadata), content_type=self.content_type)


class InMemoryObjectStore:
    """imgflow.storage.ObjectStore in memory, with S3's conditional-write rules."""

    def __init__(self, versioned: set[str] | frozenset[str] = frozenset()) -> None:
        self._versioned = set(versioned)
        # (bucket, key) -> versions, oldest first; None is a delete marker.
        self._objects: dict[tuple[str, str], list[_Version | None]] = defaultdict(list)
        self._hooks: dict[tuple[Operation, str, str], list[Callable[[], None]]] = defaultdict(list)
        self._ids = itertools.count(1)
        #: Every call, in order: (operation, bucket, key); the tests' request log.
        self.calls: list[tuple[Operation, str, str]] = []

    # -- scripting ---------------------------------------------------------
    def before(
        self, operation: Operation, bucket: str, key: str, action: Callable[[], None]
    ) -> None:
        """Run ``action`` once, just before the next ``operation`` on bucket/key.

        For write and copy, bucket/key is the destination. Scheduling several
        actions for the same call runs them on successive calls, in order.
        """
        self._hooks[(operation, bucket, key)].append(action)

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> ObjectRef:
        """An unconditional upload, as a user (or another writer) makes one."""
        return self._store(bucket, key, data, dict(metadata or {}), content_type)

    def bytes_of(self, bucket: str, key: str) -> bytes | None:
        """The current bytes at bucket/key (None when absent), for assertions."""
        current = self._current(bucket, key)
        return current.data if current else None

    def versions(self, bucket: str, key: str) -> list[ObjectRef]:
        """Every stored version of bucket/key, oldest first (delete markers left out)."""
        return [v.stored(bucket, key).ref for v in self._objects[(bucket, key)] if v is not None]

    # -- ObjectStore ---------------------------------------------------------
    def head(self, bucket: str, key: str, version_id: str | None = None) -> StoredObject | None:
        self._call("head", bucket, key)
        found = self._find(bucket, key, version_id)
        return found.stored(bucket, key) if found else None

    def read(self, ref: ObjectRef, max_bytes: int) -> bytes:
        self._call("read", ref.bucket, ref.key)
        found = self._find(ref.bucket, ref.key, ref.version_id)
        if found is None:
            raise ObjectNotFoundError(f"s3://{ref.bucket}/{ref.key} no longer exists")
        if len(found.data) > max_bytes:
            raise ImageTooLargeError(
                f"s3://{ref.bucket}/{ref.key} is {len(found.data):,} bytes, "
                f"above the {max_bytes:,}-byte limit"
            )
        return found.data

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
        self._call("write", bucket, key)
        self._check(bucket, key, if_match, if_none_match)
        return self._store(bucket, key, data, dict(metadata), content_type)

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
        self._call("copy", bucket, key)
        origin = self._find(source.bucket, source.key, source.version_id)
        if origin is None:
            raise ObjectNotFoundError(f"s3://{source.bucket}/{source.key} no longer exists")
        self._check(bucket, key, if_match, if_none_match)
        ref = self._store(bucket, key, origin.data, dict(metadata), content_type)
        # As S3ObjectStore.copy reports it: the size is the source reference's.
        return ObjectRef(
            bucket=bucket, key=key, etag=ref.etag, version_id=ref.version_id, size=source.size
        )

    def delete(self, bucket: str, key: str) -> None:
        self._call("delete", bucket, key)
        versions = self._objects[(bucket, key)]
        if bucket in self._versioned:
            if versions and versions[-1] is not None:
                versions.append(None)
        else:
            versions.clear()

    # -- S3's rules ----------------------------------------------------------
    def _call(self, operation: Operation, bucket: str, key: str) -> None:
        self.calls.append((operation, bucket, key))
        hooks = self._hooks.get((operation, bucket, key))
        if hooks:
            hooks.pop(0)()

    def _check(self, bucket: str, key: str, if_match: str | None, if_none_match: bool) -> None:
        current = self._current(bucket, key)
        if if_none_match and current is not None:
            raise WriteConflictError(f"s3://{bucket}/{key} exists (If-None-Match)")
        if if_match and current is None:
            raise ObjectNotFoundError(f"s3://{bucket}/{key} no longer exists (If-Match)")
        if if_match and current is not None and current.etag != if_match:
            raise WriteConflictError(f"s3://{bucket}/{key} changed (If-Match)")

    def _store(
        self,
        bucket: str,
        key: str,
        data: bytes,
        metadata: dict[str, str],
        content_type: str | None,
    ) -> ObjectRef:
        version_id = f"v{next(self._ids)}" if bucket in self._versioned else None
        version = _Version(data, hashlib.md5(data).hexdigest(), version_id, metadata, content_type)
        versions = self._objects[(bucket, key)]
        if bucket not in self._versioned:
            versions.clear()
        versions.append(version)
        return version.stored(bucket, key).ref

    def _current(self, bucket: str, key: str) -> _Version | None:
        versions = self._objects.get((bucket, key))
        return versions[-1] if versions else None

    def _find(self, bucket: str, key: str, version_id: str | None) -> _Version | None:
        if version_id is None or version_id == "null":
            return self._current(bucket, key)
        for version in self._objects.get((bucket, key), []):
            if version is not None and version.version_id == version_id:
                return version
        return None
