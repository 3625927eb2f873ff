"""The in-memory twin (tests/memory_store.py) keeps S3's rules: the same cases, on both.

The unit tests of StoreResult and QuarantineOriginal run on the twin; this
runs what they rely on against S3ObjectStore on moto (with imgflow's
conditional-copy patch, which makes moto as strict as S3), so the twin
cannot quietly drift from the real adapter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from imgflow.aws.s3 import S3ObjectStore
from imgflow.contract import ObjectRef
from imgflow.errors import ImageTooLargeError, ObjectNotFoundError, WriteConflictError
from imgflow.storage import ObjectStore
from imgflow_toolkit.local import moto_patches
from memory_store import InMemoryObjectStore

PLAIN, VERSIONED = "plain-bucket", "versioned-bucket"
DATA = b"some image bytes"


@pytest.fixture(params=["memory", "s3"])
def store(request) -> Iterator[ObjectStore]:
    if request.param == "memory":
        yield InMemoryObjectStore(versioned={VERSIONED})
        return
    moto_patches.apply()
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=PLAIN)
        client.create_bucket(Bucket=VERSIONED)
        client.put_bucket_versioning(
            Bucket=VERSIONED, VersioningConfiguration={"Status": "Enabled"}
        )
        yield S3ObjectStore(client)


def put(store: ObjectStore, bucket: str, key: str, data: bytes = DATA, **conditions) -> ObjectRef:
    return store.write(
        bucket, key, data, content_type="image/jpeg", metadata={"a": "1"}, **conditions
    )


def test_write_then_head_gives_the_md5_etag_metadata_and_type(store):
    ref = put(store, PLAIN, "k")
    found = store.head(PLAIN, "k")
    assert ref.etag == found.ref.etag == hashlib.md5(DATA).hexdigest()
    assert found.ref.size == len(DATA) and found.ref.version_id is None
    assert found.metadata == {"a": "1"} and found.content_type == "image/jpeg"


def test_missing_objects(store):
    assert store.head(PLAIN, "nothing") is None
    with pytest.raises(ObjectNotFoundError):
        store.read(ObjectRef(bucket=PLAIN, key="nothing"), 100)
    store.delete(PLAIN, "nothing")  # no error


def test_read_refuses_more_than_max_bytes(store):
    ref = put(store, PLAIN, "k")
    assert store.read(ref, len(DATA)) == DATA
    with pytest.raises(ImageTooLargeError):
        store.read(ref, len(DATA) - 1)


def test_if_none_match_writes_only_where_nothing_is(store):
    put(store, PLAIN, "k", if_none_match=True)
    with pytest.raises(WriteConflictError):
        put(store, PLAIN, "k", b"second", if_none_match=True)
    assert store.read(ObjectRef(bucket=PLAIN, key="k"), 100) == DATA


def test_if_match_writes_only_over_that_etag(store):
    first = put(store, PLAIN, "k")
    with pytest.raises(WriteConflictError):
        put(store, PLAIN, "k", b"second", if_match="0" * 32)
    put(store, PLAIN, "k", b"second", if_match=first.etag)
    with pytest.raises(ObjectNotFoundError):
        put(store, PLAIN, "missing", if_match=first.etag)


def test_copy_keeps_the_bytes_and_etag_replaces_metadata_and_honours_conditions(store):
    source = put(store, PLAIN, "src")
    made = store.copy(source, PLAIN, "dst", metadata={"b": "2"}, if_none_match=True)
    assert made.etag == source.etag
    found = store.head(PLAIN, "dst")
    assert found.metadata == {"b": "2"}
    with pytest.raises(WriteConflictError):
        store.copy(source, PLAIN, "dst", metadata={}, if_none_match=True)
    with pytest.raises(WriteConflictError):
        store.copy(source, PLAIN, "dst", metadata={}, if_match="0" * 32)
    store.copy(source, PLAIN, "dst", metadata={"c": "3"}, if_match=found.ref.etag)
    assert store.head(PLAIN, "dst").metadata == {"c": "3"}


def test_copy_of_a_missing_source_is_not_found(store):
    with pytest.raises(ObjectNotFoundError):
        store.copy(ObjectRef(bucket=PLAIN, key="gone"), PLAIN, "dst", metadata={})


def test_versioned_bucket_keeps_old_versions_readable_and_delete_hides_the_key(store):
    old = put(store, VERSIONED, "k")
    new = put(store, VERSIONED, "k", b"newer")
    assert old.version_id and new.version_id and old.version_id != new.version_id
    assert store.read(old, 100) == DATA
    assert store.head(VERSIONED, "k", old.version_id).ref.etag == old.etag
    store.delete(VERSIONED, "k")
    assert store.head(VERSIONED, "k") is None
    assert store.read(old, 100) == DATA
