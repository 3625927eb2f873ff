"""S3: atomic conditional writes, and the EventBridge configuration read back."""

from __future__ import annotations

import re
import threading
from typing import Any

_put_lock = threading.RLock()


def _patch_s3_conditional_writes() -> None:
    """Make moto's conditional PutObject (and DeleteObject) atomic, as S3's are.

    moto 5.2.5 checks If-Match / If-None-Match and then stores, unlocked: two
    threads racing on one key could both pass the check, where S3 lets exactly
    one win (the other gets 412 or 409). Its CopyObject ignores those
    conditions on the destination altogether. imgflow settles duplicate
    executions with these writes (imgflow.steps.store and .quarantine), so
    the local runtime must not be laxer than S3. Idempotent.
    """
    from moto.s3.exceptions import MissingKey, PreconditionFailed
    from moto.s3.responses import S3Response

    if getattr(S3Response.put_object, "_imgflow_serialised", False):
        return
    original_put, original_copy = S3Response.put_object, S3Response.copy_object
    original_delete = S3Response.delete_object

    def put_object(self: Any) -> Any:
        with _put_lock:
            return original_put(self)

    def delete_object(self: Any) -> Any:
        # A delete disposes the key's buffer: racing a PutObject of the same key
        # (duplicate executions staging the same result), it closed the file the
        # put was still reading for its ETag ("I/O operation on closed file").
        with _put_lock:
            return original_delete(self)

    def copy_object(self: Any) -> Any:
        with _put_lock:
            if_match = self.headers.get("If-Match")
            if_none_match = self.headers.get("If-None-Match")
            if if_match or if_none_match:
                key_name = self.parse_key_name()
                existing = self.backend.get_object(self.bucket_name, key_name)
                if if_none_match == "*" and existing is not None:
                    raise PreconditionFailed("If-None-Match")
                if if_match and existing is None:
                    raise MissingKey(key=key_name)
                if if_match and if_match.strip('"') != existing.etag.strip('"'):
                    raise PreconditionFailed("If-Match")
            return original_copy(self)

    put_object._imgflow_serialised = True  # type: ignore[attr-defined]
    put_object.__wrapped__ = original_put  # type: ignore[attr-defined]
    copy_object.__wrapped__ = original_copy  # type: ignore[attr-defined]
    delete_object.__wrapped__ = original_delete  # type: ignore[attr-defined]
    S3Response.put_object = put_object  # type: ignore[method-assign]
    S3Response.copy_object = copy_object  # type: ignore[method-assign]
    S3Response.delete_object = delete_object  # type: ignore[method-assign]


def _patch_s3_eventbridge_configuration_read() -> None:
    """Why: moto 5.2.5 stores ``EventBridgeConfiguration`` from
    PutBucketNotificationConfiguration (and sends the events) but leaves it out
    of GetBucketNotificationConfiguration, where S3 answers
    ``<EventBridgeConfiguration/>``. The ExistingSourceBucket custom resource
    (imgflow.aws.existing_bucket) reads it to know what to restore on delete.
    """
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification
    if getattr(original, "_imgflow_eventbridge", False):
        return

    def get_bucket_notification(self: Any) -> Any:
        status, headers, body = original(self)
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config is None or config.event_bridge is None or not isinstance(body, str):
            return status, headers, body
        element = "<EventBridgeConfiguration></EventBridgeConfiguration>"
        closing = re.search(r"</[A-Za-z]+>\s*$", body)
        if closing:
            body = body[: closing.start()] + element + body[closing.start() :]
        else:  # an empty root element, <Root xmlns="..."/>
            body = re.sub(r"<(\w+)([^>]*)/>\s*$", rf"<\1\2>{element}</\1>", body)
        return status, headers, body

    get_bucket_notification._imgflow_eventbridge = True  # type: ignore[attr-defined]
    get_bucket_notification.__wrapped__ = original  # type: ignore[attr-defined]
    S3Response.get_bucket_notification = get_bucket_notification  # type: ignore[method-assign]
