"""``imgflow backfill`` against moto's AWS (mock_aws, no network): the stack's
outputs, a bucket with objects, the deployed backfill definition."""

from __future__ import annotations

import argparse
import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from imgflow.aws import backfill
from imgflow.commands.backfill import main
from imgflow.local.template import read_stack
from imgflow.ops.backfill import KeyFilter, key_patterns

REGION = "us-east-1"
BUCKET = "cms-uploads"
OBJECTS = {
    "photos/a.jpg": 1_000,
    "photos/b c/ü+1.JPEG": 2_000,
    "photos/c.png": 3_000,
    "photos/d.Jpg": 4_000,  # mixed case: the upload rule does not match it either
    "photos/notes.txt": 5_000,
    "photos/_imgflow-staging/photos/a.jpg": 6_000,  # under KeyPrefix, with a suffix: matched
    "other/e.jpg": 7_000,  # outside KeyPrefix
}


def args(**given: Any) -> argparse.Namespace:
    defaults = {
        "stack_name": "imgflow",
        "prefix": None,
        "max_concurrency": None,
        "tolerated_failure_percentage": None,
        "dry_run": False,
        "wait": False,
        "mb_per_megapixel": None,
        "template": None,
        "region": REGION,
        "profile": None,
    }
    return argparse.Namespace(**(defaults | given))


@pytest.fixture
def deployed(repo, monkeypatch):
    """A bucket with OBJECTS and a stack whose outputs name it and its backfill."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        s3 = session.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        for key, size in OBJECTS.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"x" * size)
        parameters = {"ExistingSourceBucket": BUCKET, "KeyPrefix": "photos/"}
        spec = read_stack(repo / "template.yaml", parameters).backfill
        sfn = session.client("stepfunctions")
        arn = sfn.create_state_machine(
            name=spec.name,
            definition=spec.definition,
            roleArn="arn:aws:iam::123456789012:role/backfill",
        )["stateMachineArn"]
        template = {
            "Parameters": {k: {"Type": "String"} for k in parameters},
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {
                "BackfillStateMachineArn": {"Value": arn},
                "SourceBucketName": {"Value": BUCKET},
            },
        }
        session.client("cloudformation").create_stack(
            StackName="imgflow",
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )
        yield session, arn


def test_dry_run_counts_every_page_with_the_backfills_filter_and_starts_nothing(
    deployed, repo, capsys
):
    session, arn = deployed
    found = backfill.find(session, "imgflow")
    listing = backfill.list_objects(
        session.client("s3"), BUCKET, found.default_prefix, found.matches, page_size=2
    )
    assert (listing.objects, listing.bytes, listing.pages) == (6, 21_000, 3)
    assert (listing.images, listing.image_bytes) == (4, 12_000)

    assert main(args(dry_run=True, template=repo / "template.yaml"), session) == 0
    printed = capsys.readouterr().out
    assert "6 objects, 21,000 bytes; 4 images, 12,000 bytes" in printed
    assert "estimated AWS cost" in printed
    assert session.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"] == []


def test_the_dry_run_filter_is_the_deployed_definitions(deployed):
    session, _ = deployed
    found = backfill.find(session, "imgflow")
    assert found.default_prefix == "photos/"
    assert key_patterns(found.definition)[0] == "photos/*.jpg"
    matches = KeyFilter(key_patterns(found.definition))
    assert [k for k in OBJECTS if matches(k)] == [
        "photos/a.jpg",
        "photos/b c/ü+1.JPEG",
        "photos/c.png",
        "photos/_imgflow-staging/photos/a.jpg",
    ]


def test_backfill_starts_the_state_machine_with_the_prefix_and_concurrency(deployed, capsys):
    session, arn = deployed
    code = main(
        args(prefix="photos/b c/", max_concurrency=7, tolerated_failure_percentage=2.5), session
    )
    assert code == 0, capsys.readouterr().err
    sfn = session.client("stepfunctions")
    (started,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert started["name"].startswith("backfill-")
    described = sfn.describe_execution(executionArn=started["executionArn"])
    assert json.loads(described["input"]) == {
        "prefix": "photos/b c/",
        "maxConcurrency": 7,
        "toleratedFailurePercentage": 2.5,
    }
    assert started["executionArn"] in capsys.readouterr().out


def test_a_prefix_outside_keyprefix_is_refused_before_anything_starts(deployed, capsys):
    session, arn = deployed
    assert main(args(prefix="other/"), session) == 2
    assert "not under the stack's KeyPrefix 'photos/'" in capsys.readouterr().err
    assert session.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"] == []
