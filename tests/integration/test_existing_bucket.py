"""The ExistingSourceBucket custom resource, through its real handler, on moto.

Each request goes through functions/attach/app.py as CloudFormation sends it;
the answer is PUT over real HTTP to a server on 127.0.0.1 standing in for the
pre-signed ResponseURL (imgflow_toolkit.local.response_url), and read back from there.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from imgflow.aws import existing_bucket
from imgflow.aws.cfn_response import Outcome, answer
from imgflow.aws.existing_bucket import handle_request
from imgflow_toolkit.cloudformation import ACCOUNT, REGION
from imgflow_toolkit.local import moto_patches
from imgflow_toolkit.local.context import lambda_context
from imgflow_toolkit.local.response_url import ResponseURL

REPO = Path(__file__).resolve().parents[2]
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/imgflow/1a2b3c"
LOGICAL_ID = "SourceBucketAttachment"


@pytest.fixture
def response_url() -> Iterator[ResponseURL]:
    with ResponseURL() as server:
        yield server


@pytest.fixture(scope="module")
def app():
    """functions/attach/app.py, imported as Lambda would (a cold start)."""
    path = REPO / "functions" / "attach" / "app.py"
    spec = importlib.util.spec_from_file_location("_attach_app_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setattr(existing_bucket, "ACCESS_DENIED_RETRY_S", ())
    moto_patches.apply()  # GetBucketNotificationConfiguration with EventBridge, as on S3
    with mock_aws():
        yield Account()


class Account:
    """The user's account: buckets that exist before imgflow is deployed."""

    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.sns = boto3.client("sns", region_name=REGION)

    def bucket(self, name: str, versioning: str | None = None) -> str:
        self.s3.create_bucket(Bucket=name)
        if versioning:
            self.s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": versioning}
            )
        return name

    def with_other_notifications(self, bucket: str, eventbridge: bool = False) -> dict[str, Any]:
        """The bucket's owner already sends events to a Lambda, a queue and a topic."""
        queue_url = self.sqs.create_queue(QueueName=f"{bucket}-thumbnails")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        topic_arn = self.sns.create_topic(Name=f"{bucket}-audit")["TopicArn"]
        config: dict[str, Any] = {
            "QueueConfigurations": [
                {
                    "Id": "thumbnails",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
                }
            ],
            "TopicConfigurations": [
                {"Id": "audit", "TopicArn": topic_arn, "Events": ["s3:ObjectRemoved:*"]}
            ],
            "LambdaFunctionConfigurations": [
                {
                    "Id": "index",
                    "LambdaFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:indexer",
                    "Events": ["s3:ObjectCreated:Put"],
                }
            ],
        }
        if eventbridge:
            config["EventBridgeConfiguration"] = {}
        self.s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration=config, SkipDestinationValidation=True
        )
        return self.notifications(bucket)

    def notifications(self, bucket: str) -> dict[str, Any]:
        response = self.s3.get_bucket_notification_configuration(Bucket=bucket)
        return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def request(
    kind: str,
    response_url: ResponseURL,
    bucket: str,
    *,
    in_place: bool = False,
    physical_id: str | None = None,
    old_bucket: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": kind,
        "ServiceToken": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:imgflow-attach",
        "ResponseURL": response_url.url,
        "StackId": STACK_ID,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": LOGICAL_ID,
        "ResourceType": "Custom::SourceBucketAttachment",
        "ResourceProperties": {
            "ServiceToken": "arn:...",
            "BucketName": bucket,
            "RequireVersioning": str(in_place).lower(),
        },
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_bucket is not None:
        event["OldResourceProperties"] = {**event["ResourceProperties"], "BucketName": old_bucket}
    return event


def send(app, event: dict[str, Any], response_url: ResponseURL) -> dict[str, Any]:
    """Invoke the handler; return what reached the ResponseURL (the body it returned too)."""
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:imgflow-attach"
    context = lambda_context("imgflow-attach", arn, memory_mb=256, timeout_s=45)
    before = len(response_url.received)
    returned = app.handler(event, context)
    assert len(response_url.received) == before + 1, "exactly one answer per request"
    body = response_url.last()
    assert body == returned
    assert body["RequestId"] == event["RequestId"]
    assert body["StackId"] == STACK_ID and body["LogicalResourceId"] == LOGICAL_ID
    return body


# --- Create and Delete keep the owner's notifications ------------------------------------


def test_create_merges_eventbridge_and_keeps_lambda_queue_and_topic_notifications(
    aws, app, response_url
):
    bucket = aws.bucket("cms-uploads")
    before = aws.with_other_notifications(bucket)

    created = send(app, request("Create", response_url, bucket), response_url)

    assert created["Status"] == "SUCCESS"
    assert created["Data"] == {"BucketName": bucket, "EventBridgeWasOn": "false"}
    assert aws.notifications(bucket) == {**before, "EventBridgeConfiguration": {}}


def test_delete_turns_eventbridge_off_again_and_leaves_everything_else_identical(
    aws, app, response_url
):
    bucket = aws.bucket("cms-uploads")
    before = aws.with_other_notifications(bucket)
    created = send(app, request("Create", response_url, bucket), response_url)

    deleted = send(
        app,
        request("Delete", response_url, bucket, physical_id=created["PhysicalResourceId"]),
        response_url,
    )

    assert deleted["Status"] == "SUCCESS"
    assert deleted["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert aws.notifications(bucket) == before
    assert "EventBridgeConfiguration" not in aws.notifications(bucket)


def test_bucket_that_already_had_eventbridge_keeps_it_after_delete(aws, app, response_url):
    bucket = aws.bucket("cms-uploads")
    before = aws.with_other_notifications(bucket, eventbridge=True)

    created = send(app, request("Create", response_url, bucket), response_url)
    assert created["Data"]["EventBridgeWasOn"] == "true"
    assert aws.notifications(bucket) == before
    send(
        app,
        request("Delete", response_url, bucket, physical_id=created["PhysicalResourceId"]),
        response_url,
    )

    assert aws.notifications(bucket) == before


def test_delete_keeps_notifications_the_owner_added_since_create(aws, app, response_url):
    bucket = aws.bucket("cms-uploads")
    created = send(app, request("Create", response_url, bucket), response_url)
    added = aws.with_other_notifications(bucket, eventbridge=True)  # while attached

    send(
        app,
        request("Delete", response_url, bucket, physical_id=created["PhysicalResourceId"]),
        response_url,
    )

    expected = {k: v for k, v in added.items() if k != "EventBridgeConfiguration"}
    assert aws.notifications(bucket) == expected


def test_delete_of_a_bucket_that_no_longer_exists_succeeds(aws, app, response_url):
    bucket = aws.bucket("short-lived")
    created = send(app, request("Create", response_url, bucket), response_url)
    aws.s3.delete_bucket(Bucket=bucket)

    deleted = send(
        app,
        request("Delete", response_url, bucket, physical_id=created["PhysicalResourceId"]),
        response_url,
    )

    assert deleted["Status"] == "SUCCESS"


# --- In-place mode needs versioning Enabled, and never sets it ---------------------------


@pytest.mark.parametrize("versioning, shown", [(None, "off"), ("Suspended", "Suspended")])
def test_in_place_on_a_bucket_without_versioning_enabled_is_refused(
    aws, app, response_url, versioning, shown
):
    bucket = aws.bucket("cms-uploads", versioning=versioning)
    before = aws.with_other_notifications(bucket)

    failed = send(app, request("Create", response_url, bucket, in_place=True), response_url)

    assert failed["Status"] == "FAILED"
    assert (
        f"bucket cms-uploads has versioning {shown}; imgflow in-place mode needs versioning "
        "Enabled and never changes versioning on a bucket it does not own: enable it with "
        "`aws s3api put-bucket-versioning --bucket cms-uploads "
        "--versioning-configuration Status=Enabled` and deploy again"
    ) in failed["Reason"]
    assert aws.notifications(bucket) == before  # nothing changed
    versioning_now = aws.s3.get_bucket_versioning(Bucket=bucket).get("Status")
    assert versioning_now == versioning


def test_in_place_on_a_versioned_bucket_attaches(aws, app, response_url):
    bucket = aws.bucket("cms-uploads", versioning="Enabled")

    created = send(app, request("Create", response_url, bucket, in_place=True), response_url)

    assert created["Status"] == "SUCCESS"
    assert aws.notifications(bucket) == {"EventBridgeConfiguration": {}}


# --- Failures are answered FAILED, with the reason, and roll back cleanly ----------------


def test_missing_bucket_fails_with_the_reason_and_its_rollback_delete_succeeds(
    aws, app, response_url
):
    failed = send(app, request("Create", response_url, "no-such-bucket"), response_url)

    assert failed["Status"] == "FAILED"
    assert "BucketNotFoundError: bucket no-such-bucket does not exist" in failed["Reason"]
    # CloudFormation rolls the failed Create back with a Delete of the id it was given.
    rolled_back = send(
        app,
        request("Delete", response_url, "no-such-bucket", physical_id=failed["PhysicalResourceId"]),
        response_url,
    )
    assert rolled_back["Status"] == "SUCCESS"


def test_bucket_in_another_region_is_refused(aws, app, response_url):
    aws.s3.create_bucket(
        Bucket="eu-uploads", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )

    failed = send(app, request("Create", response_url, "eu-uploads"), response_url)

    assert failed["Status"] == "FAILED"
    assert "bucket eu-uploads is in eu-west-1, this stack in us-east-1" in failed["Reason"]


@pytest.mark.parametrize(
    "operation", ["get_bucket_location", "get_bucket_notification_configuration"]
)
def test_access_denied_fails_with_the_operation_and_the_bucket(aws, response_url, operation):
    s3 = boto3.client("s3", region_name=REGION)
    stubber = Stubber(s3)
    if operation != "get_bucket_location":
        stubber.add_response("get_bucket_location", {})  # us-east-1
    stubber.add_client_error(operation, "AccessDenied", "Access Denied", 403)
    event = request("Create", response_url, "locked-bucket")

    with stubber:
        body = answer(event, None, lambda e: handle_request(e, s3=s3))

    assert response_url.last() == body
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith(
        f"BucketAccessDeniedError: {operation} on bucket locked-bucket was denied"
    )
    assert body["PhysicalResourceId"] == f"{LOGICAL_ID}-not-created"


def test_access_denied_is_retried_while_the_grant_propagates(aws, monkeypatch, response_url):
    monkeypatch.setattr(existing_bucket, "ACCESS_DENIED_RETRY_S", (0.0,))
    bucket = aws.bucket("cms-uploads")
    s3 = boto3.client("s3", region_name=REGION)
    denied_once = Stubber(s3)
    denied_once.add_client_error("get_bucket_location", "AccessDenied", "Access Denied", 403)
    calls = []

    def first_call_denied(event: dict[str, Any]) -> Outcome:
        with denied_once:
            try:
                s3.get_bucket_location(Bucket=bucket)
            except s3.exceptions.ClientError:
                calls.append("denied")
        return handle_request(event, s3=s3)

    body = answer(request("Create", response_url, bucket), None, first_call_denied)
    assert calls == ["denied"] and body["Status"] == "SUCCESS"


def test_any_exception_is_answered_failed_with_its_type_and_message(response_url):
    def broken(event: dict[str, Any]) -> Outcome:
        raise KeyError("BucketName")

    body = answer(request("Create", response_url, "x-bucket"), None, broken)

    assert response_url.last() == body
    assert body["Status"] == "FAILED"
    assert body["Reason"] == "KeyError: 'BucketName'"


def test_work_that_outlives_the_deadline_is_answered_failed_not_left_hanging(response_url):
    release = threading.Event()

    def hung(event: dict[str, Any]) -> Outcome:
        release.wait(30)  # an AWS call that never returns
        return Outcome("never")

    try:
        body = answer(request("Create", response_url, "x-bucket"), None, hung, deadline_s=0.2)
    finally:
        release.set()

    assert body["Status"] == "FAILED"
    assert "did not finish within" in body["Reason"]
    assert response_url.last() == body


def test_the_answer_is_a_put_with_an_empty_content_type_to_the_presigned_url(response_url):
    answer(request("Create", response_url, "x-bucket"), None, lambda e: Outcome("id-1"))

    (received,) = response_url.received
    assert received["path"] == "/cfn-response?X-Amz-Signature=local"
    assert received["headers"].get("Content-Type") == ""  # the URL is signed without one
    assert received["body"]["Status"] == "SUCCESS"
    assert received["body"]["PhysicalResourceId"] == "id-1"


def test_a_long_reason_is_cut_to_fit_cloudformations_4096_byte_limit(response_url):
    def verbose(event: dict[str, Any]) -> Outcome:
        raise RuntimeError("x" * 10_000)

    answer(request("Create", response_url, "x-bucket"), None, verbose)

    assert len(json.dumps(response_url.last()).encode()) < 4096


# --- Update: same bucket, or another one --------------------------------------------------


def test_update_to_another_bucket_attaches_it_and_the_old_ids_delete_restores_the_old(
    aws, app, response_url
):
    old, new = aws.bucket("bucket-a"), aws.bucket("bucket-b")
    old_before = aws.with_other_notifications(old)
    new_before = aws.with_other_notifications(new)
    created = send(app, request("Create", response_url, old), response_url)

    updated = send(
        app,
        request(
            "Update",
            response_url,
            new,
            physical_id=created["PhysicalResourceId"],
            old_bucket=old,
        ),
        response_url,
    )
    assert updated["Status"] == "SUCCESS"
    assert updated["PhysicalResourceId"] != created["PhysicalResourceId"]  # a replacement
    assert aws.notifications(new) == {**new_before, "EventBridgeConfiguration": {}}

    # CloudFormation's cleanup: Delete with the old id restores bucket A only.
    send(
        app,
        request("Delete", response_url, old, physical_id=created["PhysicalResourceId"]),
        response_url,
    )
    assert aws.notifications(old) == old_before
    assert aws.notifications(new) == {**new_before, "EventBridgeConfiguration": {}}

    # And the stack's own delete later restores bucket B.
    send(
        app,
        request("Delete", response_url, new, physical_id=updated["PhysicalResourceId"]),
        response_url,
    )
    assert aws.notifications(new) == new_before


@pytest.mark.parametrize("versioning", ["Enabled", None])
def test_an_update_of_the_same_bucket_keeps_its_id_whether_it_succeeds_or_fails(
    aws, app, response_url, versioning
):
    """Switching the same bucket to in-place: with versioning it succeeds under the same
    id and keeps what it found; without, it fails and keeps the old id, so that
    CloudFormation deletes nothing."""
    bucket = aws.bucket("cms-uploads", versioning=versioning)
    created = send(app, request("Create", response_url, bucket), response_url)

    updated = send(
        app,
        request(
            "Update",
            response_url,
            bucket,
            in_place=True,
            physical_id=created["PhysicalResourceId"],
            old_bucket=bucket,
        ),
        response_url,
    )

    assert updated["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert aws.notifications(bucket) == {"EventBridgeConfiguration": {}}
    if versioning == "Enabled":
        assert updated["Status"] == "SUCCESS"
        assert updated["Data"]["EventBridgeWasOn"] == "false"  # not what it set itself
    else:
        assert updated["Status"] == "FAILED"
        assert "has versioning off" in updated["Reason"]
