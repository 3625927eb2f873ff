"""template.yaml lets no one in: least privilege, TLS only, encryption, bounds, alarms.

Read from the template itself (SAM short forms parsed by imgflow_toolkit.local.template),
so a policy widened by accident fails here before checkov or a review sees it.
cfn-lint and checkov (make checks) cover the generic rules; these are imgflow's.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from imgflow_toolkit.cloudformation import load_yaml

BUCKETS = ("SourceBucket", "DestinationBucket", "FailedBucket")
FUNCTIONS = (
    "ValidateImageFunction",
    "CompressImageFunction",
    "CompressLargeImageFunction",
    "StoreResultFunction",
    "NotifyFunction",
    "QuarantineOriginalFunction",
)
# The source bucket: the one created, or the one ExistingSourceBucket names, with its key.
SOURCE = {"SourceBucket", "ExistingSourceBucket", "SourceBucketKmsKeyArn"}
# What each function may touch: the resources (and parameters naming them) its policies name.
MAY_TOUCH = {
    "ValidateImageFunction": SOURCE | {"DestinationBucket"},
    "CompressImageFunction": SOURCE | {"DestinationBucket"},
    "CompressLargeImageFunction": SOURCE | {"DestinationBucket"},
    "StoreResultFunction": SOURCE | {"DestinationBucket"},
    "QuarantineOriginalFunction": SOURCE | {"FailedBucket"},
    "NotifyFunction": {"NotificationTopic", "EncryptionKey"},
}
# Who may write or delete where (bucket -> actions); everything else is read-only.
WRITERS = {
    ("CompressImageFunction", "s3:PutObject"): "staging",
    ("CompressLargeImageFunction", "s3:PutObject"): "staging",
    ("StoreResultFunction", "s3:PutObject"): "results",
    ("StoreResultFunction", "s3:DeleteObject"): "staging",
    ("QuarantineOriginalFunction", "s3:PutObject"): "failed",
}
# SAM policy templates that grant more than imgflow uses (bucket lifecycle, ACLs...).
BROAD_TEMPLATES = {"S3CrudPolicy", "S3WritePolicy", "S3FullAccessPolicy", "S3ReadPolicy"}
_SUB_REF = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z]+)?\}")


@pytest.fixture(scope="module")
def resources(repo) -> dict[str, Any]:
    return load_yaml(repo / "template.yaml")["Resources"]


def referenced(value: Any) -> set[str]:
    """Logical ids an expression refers to (Ref, GetAtt, Sub), in every If branch."""
    found: set[str] = set()
    if isinstance(value, dict):
        for name, arg in value.items():
            if name == "Ref" and isinstance(arg, str) and not arg.startswith("AWS::"):
                found.add(arg)
            elif name == "Fn::GetAtt":
                found.add(arg[0])
            elif name == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                found |= set(_SUB_REF.findall(text)) - set(variables)
                found |= referenced(variables)
            else:
                found |= referenced(arg)
    elif isinstance(value, list):
        for item in value:
            found |= referenced(item)
    return found


def statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement a function's policies may hold, both sides of a conditional one."""
    out = []
    for policy in function["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []):
            if "Fn::If" in statement:
                out.extend(s for s in statement["Fn::If"][1:] if "Effect" in s)
            else:
                out.append(statement)
    return out


def resource_texts(resource: Any) -> list[str]:
    """Every Sub / plain-string resource pattern in an expression, If branches included."""
    if isinstance(resource, str):
        return [resource]
    if isinstance(resource, list):
        return [t for item in resource for t in resource_texts(item)]
    if isinstance(resource, dict):
        if "Fn::If" in resource:
            return resource_texts(resource["Fn::If"][1:])
        if "Fn::Sub" in resource:
            arg = resource["Fn::Sub"]
            return [arg if isinstance(arg, str) else arg[0]]
        return [t for v in resource.values() for t in resource_texts(v)]
    return []


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_touches_only_its_own_buckets_and_topic(resources, function):
    spec = resources[function]
    for policy in spec["Properties"].get("Policies", []):
        assert not BROAD_TEMPLATES & set(policy), f"{function}: {set(policy)} grants too much"
        named = referenced(policy) - {"IsInPlace"}
        assert named <= MAY_TOUCH[function], f"{function} reaches {named - MAY_TOUCH[function]}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_function_policy_has_a_wildcard_resource_or_action(resources, function):
    for statement in statements(resources[function]):
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert not any(a.endswith(":*") for a in actions), statement
        assert statement["Resource"] != "*", f"{function}: {statement.get('Sid')}"
        assert all(t != "*" for t in resource_texts(statement["Resource"]))


def test_objects_are_written_and_deleted_only_where_each_function_must(resources):
    for function in FUNCTIONS:
        for statement in statements(resources[function]):
            for action in statement["Action"]:
                if action in ("s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"):
                    continue
                if not action.startswith("s3:"):
                    continue
                where = WRITERS.get((function, action))
                assert where, f"{function} may not {action}"
                texts = resource_texts(statement["Resource"])
                if where == "staging":
                    assert all(t.endswith("/${Prefix}*") for t in texts), texts
                if where == "failed":
                    assert texts == ["${FailedBucket.Arn}/*"]


def test_the_only_wildcard_resource_of_the_workflow_is_log_delivery(resources):
    for statement in statements(resources["ImageWorkflow"]):
        if statement.get("Resource") == "*":
            # CloudWatch Logs' delivery APIs support no resource-level permission.
            assert all(a.startswith("logs:") for a in statement["Action"]), statement


@pytest.mark.parametrize("bucket", BUCKETS)
def test_every_bucket_is_private_encrypted_and_tls_only(resources, bucket):
    props = resources[bucket]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    (policy,) = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::S3::BucketPolicy"
        and referenced(r["Properties"]["Bucket"]) == {bucket}
    ]
    assert_denies_insecure_transport(policy["Properties"]["PolicyDocument"], "s3:*", 2)


def assert_denies_insecure_transport(document: dict, action: str, resources: int) -> None:
    (deny,) = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    assert deny["Principal"] == "*" and deny["Action"] == action
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(deny["Resource"] if isinstance(deny["Resource"], list) else [1]) == resources


def test_the_topic_is_encrypted_with_the_stack_key_and_tls_only(resources):
    assert resources["NotificationTopic"]["Properties"]["KmsMasterKeyId"] == {
        "Ref": "EncryptionKey"
    }
    (policy,) = [r for r in resources.values() if r["Type"] == "AWS::SNS::TopicPolicy"]
    assert_denies_insecure_transport(policy["Properties"]["PolicyDocument"], "sns:Publish", 1)
    assert resources["EncryptionKey"]["Properties"]["EnableKeyRotation"] is True


def test_the_dead_letter_queue_is_encrypted_tls_only_and_alarmed(resources):
    queue = resources["DeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    policy = resources["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    assert_denies_insecure_transport(policy, "sqs:*", 1)
    rule = resources["ImageWorkflow"]["Properties"]["Events"]["ImageUploaded"]["Properties"]
    assert referenced(rule["DeadLetterConfig"]) == {"DeadLetterQueue"}
    alarm = resources["DeadLetterAlarm"]["Properties"]
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert referenced(alarm["Dimensions"]) == {"DeadLetterQueue"}
    assert (
        alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    )
    assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]


def test_log_groups_are_encrypted_and_expire(resources):
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Logs::LogGroup":
            assert resource["Properties"]["KmsKeyId"], name
            assert resource["Properties"]["RetentionInDays"], name


def test_the_heavy_functions_can_be_bounded(resources, repo):
    from imgflow_toolkit.local.template import read_stack

    for name in ("CompressImageFunction", "CompressLargeImageFunction"):
        compress = resources[name]["Properties"]
        assert compress["ReservedConcurrentExecutions"]["Fn::If"][0] == "HasCompressionCap"
    # The parameter exists and passes through the local template reader both ways.
    read_stack(repo / "template.yaml", {"MaxConcurrentCompressions": "25"})
    read_stack(repo / "template.yaml")
