"""The one place that turns a triggering event into the S3 object it names.

Four shapes arrive: the EventBridge "Object Created" event (what the rule
delivers on AWS), a classic S3 notification with ``Records`` (``sam local
generate-event s3 put``), the contract's own ``{"source": ObjectRef}`` (the
backfill's listing), and ``{"manifestItem": ...}``, a row of an S3 Inventory or
a CSV list as the backfill's Distributed Map reads it (``Bucket``, ``Key``,
optional ``Size`` and ``ETag``). The state machine hands ValidateImage any of
them wrapped with the execution, ``{"event": ..., "execution": arn}``; ``sam
local invoke`` and ``imgflow invoke`` pass them bare. S3 URL-encodes the key in
its events and its inventories alike (``+`` for a space; Powertools' data
classes decode events the same way); the contract's keys are raw.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from imgflow.contract import ObjectRef, State
from imgflow.errors import InvalidEventError


def source_of(state: State) -> ObjectRef:
    """The object an execution is about: the one ValidateImage read, else its trigger's."""
    if state.validated is not None:
        return state.validated.source
    return source_from_event(state.trigger)


def source_from_event(event: Any) -> ObjectRef:
    """Return the object an event names; raise InvalidEventError otherwise."""
    if not isinstance(event, dict):
        raise InvalidEventError(f"expected a JSON object as event, got {type(event).__name__}")
    if isinstance(event.get("event"), dict) and "execution" in event:
        return source_from_event(event["event"])
    if isinstance(event.get("validated"), dict) and "source" in event["validated"]:
        return ObjectRef.model_validate(event["validated"]["source"])
    if isinstance(event.get("source"), dict):
        return _from_contract(event["source"])
    if isinstance(event.get("manifestItem"), dict):
        return _from_manifest_item(event["manifestItem"])
    if event.get("detail-type") == "Object Created" and isinstance(event.get("detail"), dict):
        return _from_eventbridge(event["detail"])
    records = event.get("Records")
    if isinstance(records, list):
        return _from_records(records)
    raise InvalidEventError(
        "event is neither an EventBridge 'Object Created' event, an S3 notification "
        "with Records, nor an imgflow payload with 'source' or 'manifestItem'"
    )


def _from_contract(source: dict[str, Any]) -> ObjectRef:
    """The contract's own shape, as the backfill builds it from a ListObjectsV2 item:
    a raw key, and the listing's ETag, which S3 quotes ("\"abc\"")."""
    ref = ObjectRef.model_validate(source)
    if ref.etag and ref.etag.startswith('"'):
        return ref.model_copy(update={"etag": ref.etag.strip('"')})
    return ref


def _from_manifest_item(item: dict[str, Any]) -> ObjectRef:
    """A row of an S3 Inventory (its fileSchema's names) or of a CSV list: strings,
    the key URL-encoded; Size and ETag only if the inventory was configured with them."""
    try:
        fields = {"key": item["Key"], "size": item.get("Size") or None, "etag": item.get("ETag")}
        return _object_ref(item["Bucket"], fields, "etag", "version-id")
    except (KeyError, TypeError) as exc:
        raise InvalidEventError(f"manifest item lacks {exc}") from exc


def _from_eventbridge(detail: dict[str, Any]) -> ObjectRef:
    try:
        return _object_ref(detail["bucket"]["name"], detail["object"], "etag", "version-id")
    except (KeyError, TypeError) as exc:
        raise InvalidEventError(f"EventBridge S3 event lacks {exc}") from exc


def _from_records(records: list[Any]) -> ObjectRef:
    if len(records) != 1:
        # S3 sends one record per notification; several would need a Map state.
        raise InvalidEventError(f"expected exactly one S3 record, got {len(records)}")
    try:
        s3 = records[0]["s3"]
        return _object_ref(s3["bucket"]["name"], s3["object"], "eTag", "versionId")
    except (KeyError, TypeError) as exc:
        raise InvalidEventError(f"S3 notification record lacks {exc}") from exc


def _object_ref(bucket: str, obj: dict[str, Any], etag_field: str, version_field: str) -> ObjectRef:
    """The ObjectRef of an S3 event's object; the only place a key is URL-decoded."""
    etag = obj.get(etag_field) or obj.get("etag")
    return ObjectRef(
        bucket=bucket,
        key=unquote_plus(obj["key"]),
        etag=str(etag).strip('"') if etag else None,
        version_id=obj.get(version_field),
        size=int(obj["size"]) if obj.get("size") is not None else None,
    )
