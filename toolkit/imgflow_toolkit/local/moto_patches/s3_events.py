"""The S3 -> EventBridge event itself: AWS's shape, sent to the default bus."""

from __future__ import annotations

import copy
import itertools
import logging
import secrets
import string
import time
import uuid
from typing import Any
from urllib.parse import quote_plus

LOG = logging.getLogger(__name__)

_REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject",
    "s3:ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
}
_sequencer = itertools.count(time.time_ns() // 1000)


def _request_id() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))


def s3_eventbridge_event(account_id: str, bucket: Any, event_name: str, key: Any) -> dict[str, Any]:
    """The "aws.s3" event AWS sends to EventBridge (docs: S3 "EventBridge event
    message structure"), built from moto's bucket and key. ``time`` stays a unix
    float, moto's internal convention (targets format it).
    """
    from moto.core.utils import unix_time
    from moto.s3.notifications import _detail_type

    detail_type = _detail_type(event_name)
    obj: dict[str, Any] = {
        # URL-encoded like every S3 notification ("a b+c" -> "a+b%2Bc"); "/" kept.
        # AWS Lambda Powertools' S3EventBridgeNotificationObject.key unquote_plus-es it.
        "key": quote_plus(key.name, safe="/"),
    }
    is_delete = detail_type == "Object Deleted"
    if not is_delete and getattr(key, "size", None) is not None:
        obj["size"] = key.size
    etag = getattr(key, "etag", None)
    if etag:
        obj["etag"] = etag.replace('"', "")
    version_id = getattr(key, "version_id", None)
    if version_id and version_id != "null" and bucket.versioning_status in ("Enabled", "Suspended"):
        obj["version-id"] = version_id
    obj["sequencer"] = f"{next(_sequencer):016X}"
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": obj,
        "request-id": _request_id(),
        "requester": account_id,
        "source-ip-address": "127.0.0.1",
    }
    if event_name in _REASONS:
        detail["reason"] = _REASONS[event_name]
    if is_delete:
        marker = type(key).__name__ == "FakeDeleteMarker"
        detail["deletion-type"] = "Delete Marker Created" if marker else "Permanently Deleted"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": account_id,
        "time": unix_time(),
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": detail,
    }


def _patch_s3_eventbridge_event_shape() -> None:
    """Why: moto's S3 -> EventBridge event differs from AWS where it matters:
    the same fixed ``id`` for every event (breaks de-duplication by event id),
    ``eTag`` where AWS says ``etag``, ``"version-id": null`` on unversioned buckets
    (AWS omits it; ``IsPresent`` would be true), the key not URL-encoded, a constant
    ``sequencer``, ``reason`` "ObjectCreated" where AWS says "PutObject"/"CopyObject"/...,
    and it is sent to every event bus (AWS: the default bus only). One failing rule
    also stopped delivery to the rest (one bare ``except`` around the loop).
    """
    from moto.events.models import events_backends
    from moto.s3 import notifications

    original = notifications._send_event_bridge_message

    def _send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        try:
            event = s3_eventbridge_event(account_id, bucket, event_name, key)
            bus = events_backends[account_id][bucket.region_name].event_buses.get("default")
        except Exception:
            # S3 never fails the request because a notification could not be built.
            LOG.exception("could not build the S3 EventBridge event for %s", event_name)
            return
        for rule in list(bus.rules.values()) if bus else []:
            try:
                rule.send_to_targets(copy.deepcopy(event), transform_input=False)
            except Exception:
                LOG.exception("EventBridge rule %s failed on an S3 event", rule.arn)

    _send_event_bridge_message.__wrapped__ = original  # type: ignore[attr-defined]
    notifications._send_event_bridge_message = _send_event_bridge_message
