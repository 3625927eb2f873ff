"""ObjectStore on S3: the only module that calls the S3 API."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

from imgflow.contract import ObjectRef
from imgflow.errors import (
    ImageTooLargeError,
    ObjectNotFoundError,
    TransientError,
    WriteConflictError,
)
from imgflow.storage import StoredObject

_NOT_FOUND = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}
_TRANSIENT = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "503",
    "500",
}
# botocore's own adaptive retries absorb short blips; what outlasts them is
# raised as TransientError for the state machine's backoff to handle.
_CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"})


def s3_client() -> Any:
    return boto3.client("s3", config=_CLIENT_CONFIG)


class S3ObjectStore:
    """imgflow.storage.ObjectStore backed by an S3 client."""

    def __init__(self, client: Any | None = None) -> None:
        self._s3 = client or s3_client()

    def head(self, bucket: str, key: str, version_id: str | None = None) -> StoredObject | None:
        args = _version({"Bucket": bucket, "Key": key}, version_id)
        try:
            response = self._call("head_object", bucket, key, **args)
        except ObjectNotFoundError:
            return None
        return StoredObject(
            ref=_ref(bucket, key, response),
            metadata=response.get("Metadata", {}),
            content_type=response.get("ContentType"),
        )

    def read(self, ref: ObjectRef, max_bytes: int) -> bytes:
        args = _version({"Bucket": ref.bucket, "Key": ref.key}, ref.version_id)
        response = self._call("get_object", ref.bucket, ref.key, **args)
        length = int(response.get("ContentLength", 0))
        if length > max_bytes:
            response["Body"].close()
            raise ImageTooLargeError(_too_large(ref, length, max_bytes))
        data = response["Body"].read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ImageTooLargeError(_too_large(ref, len(data), max_bytes))
        return data

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
        args = _destination(bucket, key, metadata, content_type, if_match, if_none_match)
        response = self._call("put_object", bucket, key, Body=data, **args)
        return _ref(bucket, key, response, size=len(data))

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
        copy_source = _version({"Bucket": source.bucket, "Key": source.key}, source.version_id)
        args = _destination(bucket, key, metadata, content_type, if_match, if_none_match)
        response = self._call(
            "copy_object",
            source.bucket,
            source.key,
            CopySource=copy_source,
            MetadataDirective="REPLACE",
            **args,
        )
        result = response.get("CopyObjectResult", {})
        return ObjectRef(
            bucket=bucket,
            key=key,
            etag=_strip(result.get("ETag")),
            version_id=_real_version(response.get("VersionId")),
            size=source.size,
        )

    def delete(self, bucket: str, key: str) -> None:
        with contextlib.suppress(ObjectNotFoundError):
            self._call("delete_object", bucket, key, Bucket=bucket, Key=key)

    def _call(self, operation: str, bucket: str, key: str, **args: Any) -> Any:
        """Call S3, turning its failures into imgflow's error types."""
        try:
            return getattr(self._s3, operation)(**args)
        except ClientError as exc:
            raise _translate(exc, bucket, key) from exc
        except (ConnectionError, ReadTimeoutError) as exc:
            raise TransientError(f"S3 unreachable for s3://{bucket}/{key}: {exc}") from exc


def _destination(
    bucket: str,
    key: str,
    metadata: Mapping[str, str],
    content_type: str | None,
    if_match: str | None,
    if_none_match: bool,
) -> dict[str, Any]:
    """What PutObject and CopyObject share: the target, its metadata, its conditions."""
    args: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "Metadata": dict(metadata),
        "ServerSideEncryption": "AES256",
    }
    if content_type:
        args["ContentType"] = content_type
    # Conditions on the destination object (S3 conditional writes).
    if if_match:
        args["IfMatch"] = if_match
    if if_none_match:
        args["IfNoneMatch"] = "*"
    return args


def _version(args: dict[str, Any], version_id: str | None) -> dict[str, Any]:
    real = _real_version(version_id)
    if real:
        args["VersionId"] = real
    return args


def _real_version(version_id: str | None) -> str | None:
    # Unversioned buckets report the literal "null" version.
    return version_id if version_id and version_id != "null" else None


def _ref(bucket: str, key: str, response: Mapping[str, Any], size: int | None = None) -> ObjectRef:
    return ObjectRef(
        bucket=bucket,
        key=key,
        etag=_strip(response.get("ETag")),
        version_id=_real_version(response.get("VersionId")),
        size=size if size is not None else response.get("ContentLength"),
    )


def _strip(etag: str | None) -> str | None:
    return etag.strip('"') if etag else None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _translate(exc: ClientError, bucket: str, key: str) -> Exception:
    code = _code(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    where = f"s3://{bucket}/{key}"
    if code in _NOT_FOUND:
        return ObjectNotFoundError(f"{where} no longer exists (deleted after upload?)")
    # 409 ConditionalRequestConflict: a concurrent conditional write to the
    # same key won the race; the caller re-reads and decides, as for a 412.
    if code in ("PreconditionFailed", "412", "ConditionalRequestConflict") or status == 412:
        return WriteConflictError(f"{where} changed since it was validated")
    if code in _TRANSIENT or status >= 500:
        return TransientError(f"S3 {code or status} on {where}: {exc}")
    return exc


def _too_large(ref: ObjectRef, size: int, limit: int) -> str:
    return (
        f"s3://{ref.bucket}/{ref.key} is {size:,} bytes, above the {limit:,}-byte limit; "
        "raise MaxImageBytes to allow it"
    )
