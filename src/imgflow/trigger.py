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
classes decode events the same way, its parser models do not); the contract's
keys are raw. Both S3 event shapes are read with Powertools' parser models
(S3EventNotificationEventBridgeModel, S3Model): an event that does not fit
raises InvalidEventError naming the fields at fault.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.parser.models import (
    S3EventNotificationEventBridgeModel,
    S3Model,
)
from pydantic import BaseModel, ValidationError

from imgflow.contract import ObjectRef, State, validation_faults
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
        return _parsed(ObjectRef, event["validated"]["source"], "the validated source")
    if isinstance(event.get("source"), dict):
        return _from_contract(event["source"])
    if isinstance(event.get("manifestItem"), dict):
        return _from_manifest_item(event["manifestItem"])
    if event.get("detail-type") == "Object Created":
        return _from_eventbridge(event)
    if isinstance(event.get("Records"), list):
        return _from_records(event)
    raise InvalidEventError(
        "event is neither an EventBridge 'Object Created' event, an S3 notification "
        "with Records, nor an imgflow payload with 'source' or 'manifestItem'"
    )


def _from_contract(source: dict[str, Any]) -> ObjectRef:
    """The contract's own shape, as the backfill builds it from a ListObjectsV2 item:
    a raw key, and the listing's ETag, which S3 quotes ("\"abc\"")."""
    ref = _parsed(ObjectRef, source, "the contract's source")
    if ref.etag and ref.etag.startswith('"'):
        return ref.model_copy(update={"etag": ref.etag.strip('"')})
    return ref


def _from_manifest_item(item: dict[str, Any]) -> ObjectRef:
    """A row of an S3 Inventory (its fileSchema's names) or of a CSV list: strings,
    the key URL-encoded; Size and ETag only if the inventory was configured with them."""
    try:
        etag, size = item.get("ETag"), item.get("Size") or None
        return _object_ref(item["Bucket"], item["Key"], etag=etag, size=size)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidEventError(f"manifest item lacks {exc}") from exc


def _parsed[M: BaseModel](model: type[M], event: dict[str, Any], shape: str) -> M:
    """``event`` as Powertools' ``model``; InvalidEventError naming the fields otherwise."""
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        faults = validation_faults(exc)
        raise InvalidEventError(f"{shape} does not fit {model.__name__}: {faults}") from exc
    except (TypeError, AttributeError) as exc:
        # S3RecordModel's own before-validator reads eventName and s3 as if present.
        raise InvalidEventError(f"{shape} does not fit {model.__name__}: {exc}") from exc


def _from_eventbridge(event: dict[str, Any]) -> ObjectRef:
    detail = _parsed(S3EventNotificationEventBridgeModel, event, "EventBridge S3 event").detail
    obj = detail.object
    return _object_ref(
        detail.bucket.name, obj.key, etag=obj.etag, version_id=obj.version_id, size=obj.size
    )


def _from_records(event: dict[str, Any]) -> ObjectRef:
    records = event["Records"]
    if len(records) != 1:
        # S3 sends one record per notification; several would need a Map state.
        raise InvalidEventError(f"expected exactly one S3 record, got {len(records)}")
    s3 = _parsed(S3Model, event, "S3 notification").Records[0].s3
    obj = s3.object
    if obj is None:
        raise InvalidEventError("S3 notification record names no object")
    return _object_ref(
        s3.bucket.name, obj.key, etag=obj.eTag, version_id=obj.versionId, size=obj.size
    )


def _object_ref(
    bucket: str,
    encoded_key: str,
    *,
    etag: str | None = None,
    version_id: str | None = None,
    size: float | str | None = None,
) -> ObjectRef:
    """The ObjectRef of an S3 event's object; the only place a key is URL-decoded."""
    return ObjectRef(
        bucket=bucket,
        key=unquote_plus(encoded_key),
        etag=etag.strip('"') if etag else None,
        version_id=version_id,
        size=int(size) if size is not None else None,
    )
