"""template.yaml with ExistingSourceBucket: what is created, and what every policy names.

Resolved with imgflow_toolkit.local.template (parameters, conditions and intrinsics as
CloudFormation would), so each test looks at what a deploy with these
parameters would create. tools/checks.mk also runs cfn-lint and checkov on
the template with ExistingSourceBucket set.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from imgflow_toolkit.cloudformation import read_resources
from imgflow_toolkit.local.template import read_stack

BUCKET = "cms-uploads"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CREATED_SOURCE = "imgflow-sourcebucket"  # the local reader's name for the created bucket
SOURCE_READERS = (
    "ValidateImageFunction",
    "CompressImageFunction",
    "CompressLargeImageFunction",
    "StoreResultFunction",
    "QuarantineOriginalFunction",
)
# In place, these write into the source bucket (staging, then the result).
SOURCE_WRITERS = ("CompressImageFunction", "CompressLargeImageFunction", "StoreResultFunction")


def resources(repo, **parameters: str) -> dict[str, dict[str, Any]]:
    return read_resources(repo / "template.yaml", parameters)


def statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    props = resource["Properties"]
    if "PolicyDocument" in props:
        return props["PolicyDocument"]["Statement"]
    return [s for policy in props.get("Policies", []) for s in policy.get("Statement", [])]


def arns(statement: dict[str, Any]) -> list[str]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def actions(resource: dict[str, Any]) -> set[str]:
    return {a for s in statements(resource) for a in s["Action"]}


def test_by_default_the_stack_creates_its_source_bucket_and_attaches_nothing(repo):
    created = resources(repo)
    bucket = created["SourceBucket"]["Properties"]
    assert bucket["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    assert "SourceBucketPolicy" in created
    for name in (
        "AttachSourceBucketFunction",
        "AttachSourceBucketPolicy",
        "SourceBucketAttachment",
    ):
        assert name not in created
    # No key, no KMS grant on the functions that read the source bucket.
    for function in SOURCE_READERS:
        assert not {a for a in actions(created[function]) if a.startswith("kms:")}


@pytest.mark.parametrize("in_place", ["false", "true"])
def test_an_existing_bucket_is_attached_not_created_nor_given_a_policy(repo, in_place):
    attached = resources(repo, ExistingSourceBucket=BUCKET, InPlace=in_place)

    assert "SourceBucket" not in attached
    assert "SourceBucketPolicy" not in attached
    # A stack's BucketPolicy would replace the owner's own policy.
    policies = [r for r in attached.values() if r["Type"] == "AWS::S3::BucketPolicy"]
    assert policies and all(BUCKET not in json.dumps(p) for p in policies)
    for name in ("AttachSourceBucketFunction", "AttachSourceBucketPolicy"):
        assert name in attached
    attachment = attached["SourceBucketAttachment"]
    assert attachment["Type"] == "Custom::SourceBucketAttachment"
    assert attachment["Properties"]["BucketName"] == BUCKET
    assert attachment["Properties"]["RequireVersioning"] == in_place
    assert attachment["Properties"]["ServiceTimeout"] <= 300  # never CloudFormation's hour


@pytest.mark.parametrize("in_place", ["false", "true"])
def test_nothing_names_a_created_source_bucket_when_one_is_attached(repo, in_place):
    attached = resources(repo, ExistingSourceBucket=BUCKET, InPlace=in_place)
    stack = read_stack(
        repo / "template.yaml", {"ExistingSourceBucket": BUCKET, "InPlace": in_place}
    )

    assert CREATED_SOURCE not in json.dumps(attached)
    assert CREATED_SOURCE not in json.dumps(stack.outputs)
    for function in stack.functions.values():
        assert function.environment["SOURCE_BUCKET"] == BUCKET
        if in_place == "true":
            assert function.environment["DESTINATION_BUCKET"] == BUCKET
    (rule,) = stack.state_machine.rules
    assert rule.pattern["detail"]["bucket"]["name"] == [BUCKET]
    assert stack.outputs["SourceBucketName"] == BUCKET
    expected_destination = BUCKET if in_place == "true" else "imgflow-destinationbucket"
    assert stack.outputs["DestinationBucketName"] == expected_destination


@pytest.mark.parametrize("in_place", ["false", "true"])
def test_every_function_reads_uploads_from_the_existing_bucket(repo, in_place):
    attached = resources(repo, ExistingSourceBucket=BUCKET, InPlace=in_place)

    for function in SOURCE_READERS:
        (read,) = [s for s in statements(attached[function]) if s.get("Sid") == "ReadUploads"]
        assert arns(read) == [f"{BUCKET_ARN}/*"], function
    for function in ("ValidateImageFunction", "StoreResultFunction", "QuarantineOriginalFunction"):
        (listed,) = [s for s in statements(attached[function]) if "s3:ListBucket" in s["Action"]]
        assert BUCKET_ARN in arns(listed), function
    if in_place == "true":
        store = statements(attached["StoreResultFunction"])
        (write,) = [s for s in store if s.get("Sid") == "WriteResults"]
        assert arns(write) == [f"{BUCKET_ARN}/*"]
        (remove,) = [s for s in store if s.get("Sid") == "RemoveStaged"]
        assert arns(remove) == [f"{BUCKET_ARN}/_imgflow-staging/*"]


def test_the_attach_function_may_only_configure_the_named_bucket(repo):
    attached = resources(repo, ExistingSourceBucket=BUCKET)
    policy = attached["AttachSourceBucketPolicy"]

    (statement,) = statements(policy)
    assert set(statement["Action"]) == {
        "s3:GetBucketLocation",
        "s3:GetBucketVersioning",
        "s3:GetBucketNotification",
        "s3:PutBucketNotification",
    }
    assert arns(statement) == [BUCKET_ARN]
    # Named after the bucket: another bucket replaces the policy, and the old grant
    # outlives the update until the old bucket has been restored.
    assert BUCKET in policy["Properties"]["PolicyName"]
    assert policy["Properties"]["RoleName"] == "imgflow-AttachSourceBucketFunctionRole"
    function = attached["AttachSourceBucketFunction"]["Properties"]
    assert "Policies" not in function
    assert function["Timeout"] <= 60 and function["CodeUri"] == "functions/attach/"


@pytest.mark.parametrize("in_place", ["false", "true"])
def test_a_kms_key_is_granted_to_readers_and_in_place_writers_only(repo, in_place):
    attached = resources(
        repo, ExistingSourceBucket=BUCKET, SourceBucketKmsKeyArn=KEY, InPlace=in_place
    )

    for function in SOURCE_READERS:
        kms = [s for s in statements(attached[function]) if s["Action"][0].startswith("kms:")]
        granted = {a for s in kms for a in s["Action"]}
        assert all(arns(s) == [KEY] for s in kms), function
        writes = in_place == "true" and function in SOURCE_WRITERS
        assert granted == ({"kms:Decrypt", "kms:GenerateDataKey"} if writes else {"kms:Decrypt"})
    notify = statements(attached["NotifyFunction"])
    assert KEY not in json.dumps(notify)


def test_the_key_is_granted_to_a_created_bucket_too(repo):
    created = resources(repo, SourceBucketKmsKeyArn=KEY)

    for function in SOURCE_READERS:
        assert "kms:Decrypt" in actions(created[function]), function


@pytest.mark.parametrize(
    "name, value",
    [("ExistingSourceBucket", "Not_A_Bucket"), ("SourceBucketKmsKeyArn", "alias/aws/s3")],
)
def test_malformed_parameters_are_refused_before_any_deploy(repo, name, value):
    from imgflow_toolkit.cloudformation import TemplateError

    with pytest.raises(TemplateError, match=name):
        read_stack(repo / "template.yaml", {name: value})
