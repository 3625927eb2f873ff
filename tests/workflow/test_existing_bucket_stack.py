"""ExistingSourceBucket on the embedded runtime: the custom resource's real code on moto.

The account already holds a bucket with a queue notification; the local stack
is deployed onto it (SourceBucketAttachment's Create through its function),
and uploads there run the workflow as on a created bucket.
"""

from __future__ import annotations

from typing import Any

import pytest
from workflow_support import output, sample, story

from imgflow_toolkit.local.runtime import EmbeddedStack, StackCreateError

BUCKET = "cms-uploads"
KEY = "photos/chart.png"


def owners_bucket(versioning: str | None = None):
    """The account before imgflow: a bucket whose uploads already go to a queue."""

    def setup(stack: EmbeddedStack) -> None:
        stack.s3.create_bucket(Bucket=BUCKET)
        if versioning:
            stack.s3.put_bucket_versioning(
                Bucket=BUCKET, VersioningConfiguration={"Status": versioning}
            )
        url = stack.sqs.create_queue(QueueName="cms-thumbnails")["QueueUrl"]
        queue_arn = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        stack.s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {"Id": "thumbnails", "QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )

    return setup


def notifications(stack: EmbeddedStack) -> dict[str, Any]:
    response = stack.s3.get_bucket_notification_configuration(Bucket=BUCKET)
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def test_uploads_to_an_existing_bucket_are_compressed_and_its_queue_still_notified(repo):
    parameters = {"ExistingSourceBucket": BUCKET}
    with EmbeddedStack(repo / "template.yaml", parameters, account=owners_bucket()) as stack:
        assert stack.source_bucket == BUCKET
        assert "SourceBucket" not in stack.spec.buckets
        attached = notifications(stack)
        assert attached["EventBridgeConfiguration"] == {}
        assert [q["Id"] for q in attached["QueueConfigurations"]] == ["thumbnails"]

        original = sample(KEY)
        stack.upload(KEY, original)
        executions = stack.wait()
        assert [e["status"] for e in executions] == ["SUCCEEDED"], story(stack, executions)
        assert len(stack.read(stack.result_bucket, KEY)) < len(original)
        assert stack.read(BUCKET, KEY) == original

        stack.delete_custom_resources()  # what deleting the stack does
        restored = notifications(stack)
        assert "EventBridgeConfiguration" not in restored
        assert restored["QueueConfigurations"] == attached["QueueConfigurations"]


def test_in_place_on_an_existing_unversioned_bucket_is_refused_with_the_command(repo):
    parameters = {"ExistingSourceBucket": BUCKET, "InPlace": "true"}
    with (
        pytest.raises(StackCreateError, match="SourceBucketAttachment CREATE_FAILED") as failed,
        EmbeddedStack(repo / "template.yaml", parameters, account=owners_bucket("Suspended")),
    ):
        pass
    assert f"aws s3api put-bucket-versioning --bucket {BUCKET}" in str(failed.value)


def test_in_place_on_an_existing_versioned_bucket_replaces_the_original_and_keeps_it(repo):
    parameters = {"ExistingSourceBucket": BUCKET, "InPlace": "true"}
    account = owners_bucket("Enabled")
    with EmbeddedStack(repo / "template.yaml", parameters, account=account) as stack:
        original = sample(KEY)
        stack.upload(KEY, original)
        executions = stack.wait()
        # The replacement is an upload too: its execution skips it (imgflow's marker).
        told = story(stack, executions)
        assert [e["status"] for e in executions] == ["SUCCEEDED", "SUCCEEDED"], told
        reasons = sorted(output(e)["validated"]["reason"] or "compressed" for e in executions)
        assert reasons == ["compressed", "our_output"], told
        assert len(stack.read(BUCKET, KEY)) < len(original)
        versions = stack.s3.list_object_versions(Bucket=BUCKET, Prefix=KEY)["Versions"]
        assert len(versions) == 2  # the original stays recoverable
