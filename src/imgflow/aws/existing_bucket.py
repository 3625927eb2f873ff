"""Attach imgflow to a source bucket it does not own (template: ExistingSourceBucket).

CloudFormation can only configure notifications on a bucket the stack
created: ``AWS::S3::Bucket`` would make a new bucket, and a bucket cannot be
imported without handing its whole configuration to the stack. So a custom
resource does the one thing imgflow needs on someone else's bucket, turn its
S3 -> EventBridge notifications on, and nothing else:

- Create reads the bucket's notification configuration, adds
  ``EventBridgeConfiguration`` and writes it back, so the Lambda, SQS and SNS
  configurations already there stay as they are. Whether EventBridge was
  already on is recorded in the physical resource id, the only thing
  CloudFormation hands back on Delete.
- Delete turns EventBridge off again only if it was off before, and keeps
  whatever other notifications the bucket has by then.
- Update to another bucket attaches the new one under a new physical id;
  CloudFormation then sends Delete for the old id, which restores the old
  bucket (and, if the update rolls back, Delete for the new id instead).
- In-place mode rewrites originals, so it needs every original kept:
  versioning must already be Enabled. imgflow never changes versioning on a
  bucket it does not own; it refuses with the command to run.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from imgflow.aws.cfn_response import Outcome, RequestFailed

LOG = logging.getLogger(__name__)

# Short timeouts: a hung call must fail the request well within the function's timeout.
_CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"}
)
_ID_PREFIX = "imgflow-eventbridge"
_ID = re.compile(rf"^{_ID_PREFIX}:(?P<bucket>[^:]+):was-(?P<state>on|off)$")
# Keys of GetBucketNotificationConfiguration that are not part of the configuration.
_NOT_CONFIGURATION = {"ResponseMetadata"}
#: Pauses before retrying an AccessDenied (IAM propagation); then it is final.
ACCESS_DENIED_RETRY_S: tuple[float, ...] = (2.0, 4.0, 8.0)


class AttachError(Exception):
    """The bucket cannot be attached as it is; the message says what to do."""


class BucketNotFoundError(AttachError):
    """ExistingSourceBucket names no bucket this account can see."""


class BucketAccessDeniedError(AttachError):
    """The bucket's policy (or an SCP) denies the stack's role."""


class BucketInOtherRegionError(AttachError):
    """S3 sends a bucket's events to EventBridge in the bucket's own region only."""


class VersioningNotEnabledError(AttachError):
    """In-place mode on a bucket whose versioning is not Enabled."""


@dataclass(frozen=True)
class Attachment:
    """A bucket imgflow turned EventBridge on for, and what it found there."""

    bucket: str
    eventbridge_was_on: bool

    @property
    def physical_id(self) -> str:
        return f"{_ID_PREFIX}:{self.bucket}:was-{'on' if self.eventbridge_was_on else 'off'}"

    @classmethod
    def parse(cls, physical_id: str | None) -> Attachment | None:
        """The attachment a physical id records; None for an id that records none
        (a Create that failed before it changed anything)."""
        match = _ID.match(physical_id or "")
        if match is None:
            return None
        return cls(match["bucket"], match["state"] == "on")

    def outcome(self) -> Outcome:
        return Outcome(
            self.physical_id,
            {"BucketName": self.bucket, "EventBridgeWasOn": str(self.eventbridge_was_on).lower()},
        )


def s3_client() -> Any:
    return boto3.client("s3", config=_CLIENT_CONFIG)


def handle_request(event: dict[str, Any], s3: Any = None, region: str | None = None) -> Outcome:
    """Serve one custom resource request (Create, Update or Delete)."""
    s3 = s3 or s3_client()
    region = region or s3.meta.region_name
    kind = event["RequestType"]
    if kind == "Delete":
        attached = Attachment.parse(event.get("PhysicalResourceId"))
        if attached is not None:
            detach(s3, attached)
        return Outcome(event["PhysicalResourceId"])
    props = event["ResourceProperties"]
    bucket = str(props.get("BucketName") or "")
    if not bucket:
        raise RequestFailed("BucketName is empty", event.get("PhysicalResourceId"))
    require_versioning = str(props.get("RequireVersioning", "false")).lower() == "true"
    previous = Attachment.parse(event.get("PhysicalResourceId")) if kind == "Update" else None
    try:
        if previous is not None and previous.bucket == bucket:
            # Same bucket, other settings (InPlace): check again, keep the record.
            attach(s3, bucket, require_versioning=require_versioning, region=region)
            return previous.outcome()
        return attach(s3, bucket, require_versioning=require_versioning, region=region).outcome()
    except AttachError as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise RequestFailed(reason, event.get("PhysicalResourceId")) from exc


def attach(s3: Any, bucket: str, *, require_versioning: bool, region: str) -> Attachment:
    """Check the bucket, then merge EventBridge into its notifications. Changes
    nothing when a check fails."""
    location = _call(s3, "get_bucket_location", bucket).get("LocationConstraint")
    bucket_region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
    if bucket_region != region:
        raise BucketInOtherRegionError(
            f"bucket {bucket} is in {bucket_region}, this stack in {region}: S3 sends a "
            f"bucket's events to EventBridge in the bucket's own region; deploy imgflow "
            f"in {bucket_region}"
        )
    if require_versioning:
        status = _call(s3, "get_bucket_versioning", bucket).get("Status") or "off"
        if status != "Enabled":
            raise VersioningNotEnabledError(
                f"bucket {bucket} has versioning {status}; imgflow in-place mode needs "
                "versioning Enabled and never changes versioning on a bucket it does not "
                f"own: enable it with `aws s3api put-bucket-versioning --bucket {bucket} "
                "--versioning-configuration Status=Enabled` and deploy again"
            )
    config = notification_configuration(s3, bucket)
    was_on = "EventBridgeConfiguration" in config
    if not was_on:
        _put(s3, bucket, with_eventbridge(config))
    LOG.info("bucket %s: EventBridge notifications on (were %s)", bucket, "on" if was_on else "off")
    return Attachment(bucket, was_on)


def detach(s3: Any, attached: Attachment) -> None:
    """Leave EventBridge as it was found: off again only if it was off."""
    if attached.eventbridge_was_on:
        return
    try:
        config = notification_configuration(s3, attached.bucket)
    except BucketNotFoundError:
        LOG.warning("bucket %s no longer exists: nothing to restore", attached.bucket)
        return
    if "EventBridgeConfiguration" in config:
        _put(s3, attached.bucket, without_eventbridge(config))


def notification_configuration(s3: Any, bucket: str) -> dict[str, Any]:
    """The bucket's notification configuration, as PutBucketNotificationConfiguration takes it."""
    response = _call(s3, "get_bucket_notification_configuration", bucket)
    return {k: v for k, v in response.items() if k not in _NOT_CONFIGURATION}


def with_eventbridge(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with S3 -> EventBridge notifications on; every other entry kept."""
    return {**config, "EventBridgeConfiguration": {}}


def without_eventbridge(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with S3 -> EventBridge notifications off; every other entry kept."""
    return {k: v for k, v in config.items() if k != "EventBridgeConfiguration"}


def _put(s3: Any, bucket: str, config: dict[str, Any]) -> None:
    # The whole configuration is replaced, so the existing destinations are written
    # back as they are; S3 would otherwise re-check each (a Lambda whose permission
    # was since removed would fail the deploy for something imgflow does not own).
    _call(
        s3,
        "put_bucket_notification_configuration",
        bucket,
        NotificationConfiguration=config,
        SkipDestinationValidation=True,
    )


def _call(s3: Any, operation: str, bucket: str, **args: Any) -> dict[str, Any]:
    for pause in (*ACCESS_DENIED_RETRY_S, None):
        try:
            return getattr(s3, operation)(Bucket=bucket, **args)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code != "AccessDenied" or pause is None:
                _raise_named(exc, code, operation, bucket)
                raise
        # The role's grant is a policy created moments before this first call, and IAM
        # is eventually consistent: a denial may be a grant still on its way.
        time.sleep(pause)
    raise AssertionError("unreachable")


def _raise_named(exc: ClientError, code: str, operation: str, bucket: str) -> None:
    if code == "NoSuchBucket":
        raise BucketNotFoundError(
            f"bucket {bucket} does not exist: set ExistingSourceBucket to the name of a "
            "bucket in this account, or leave it empty to create one"
        ) from exc
    if code in ("AccessDenied", "AllAccessDisabled"):
        raise BucketAccessDeniedError(
            f"{operation} on bucket {bucket} was denied ({exc}): the bucket's policy "
            "must let this stack's roles read its configuration and set its notifications"
        ) from exc
