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
from imgflow.backfill import KeyFilter, key_patterns
from imgflow_toolkit.cloudformation import ACCOUNT, REGION
from imgflow_toolkit.commands.backfill import main
from imgflow_toolkit.local.template import read_stack

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
        "manifest": None,
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
        parameters = {
            "ExistingSourceBucket": BUCKET,
            "KeyPrefix": "photos/",
            "BackfillManifestLocation": "inventory/cms/",
        }
        spec = read_stack(repo / "template.yaml", parameters).backfill
        sfn = session.client("stepfunctions")
        arn = sfn.create_state_machine(
            name=spec.name,
            definition=spec.definition,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/backfill",
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


# An S3 Inventory of OBJECTS (keys URL-encoded, as S3 writes them), in two data files,
# the second without sizes (as if from an inventory configured without Size).
def put_inventory(s3: Any) -> str:
    import csv
    import gzip
    import io
    from urllib.parse import quote_plus

    s3.create_bucket(Bucket="inventory")
    rows = [(BUCKET, quote_plus(k, safe="/"), str(size)) for k, size in OBJECTS.items()]
    rows.append(("another-bucket", "photos/x.jpg", "8000"))
    files = []
    for n, part in enumerate([rows[:4], [(b, k, "") for b, k, _ in rows[4:]]]):
        text = io.StringIO()
        csv.writer(text, quoting=csv.QUOTE_ALL).writerows(part)
        key = f"cms/{BUCKET}/daily/data/{n}.csv.gz"
        s3.put_object(Bucket="inventory", Key=key, Body=gzip.compress(text.getvalue().encode()))
        files.append({"key": key, "size": 1, "MD5checksum": "0"})
    manifest = {
        "sourceBucket": BUCKET,
        "destinationBucket": "arn:aws:s3:::inventory",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size",
        "files": files,
    }
    key = f"cms/{BUCKET}/daily/manifest.json"
    s3.put_object(Bucket="inventory", Key=key, Body=json.dumps(manifest))
    return key


def test_dry_run_of_an_inventory_counts_its_rows_with_the_manifest_filter(deployed, repo, capsys):
    session, arn = deployed
    key = put_inventory(session.client("s3"))
    uri = f"s3://inventory/{key}"
    assert main(args(manifest=uri, dry_run=True, template=repo / "template.yaml"), session) == 0
    printed = capsys.readouterr().out
    # 8 rows (7 objects + another bucket's); the images: a.jpg, "b c/ü+1.JPEG", c.png (sized)
    # and the staging copy (no size: priced at their mean, 2,000 bytes).
    assert "(S3 Inventory, 2 data file(s)): 8 objects, 10,000 bytes; 4 images, 6,000 bytes" in (
        printed
    ), printed
    assert "1 of the 4 images have no Size in the manifest" in printed
    assert "mean of the others (2,000 bytes)" in printed
    assert "ListObjectsV2" not in printed  # read, not listed
    assert session.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"] == []


def test_backfill_of_a_manifest_starts_the_state_machine_with_it(deployed, capsys):
    session, arn = deployed
    key = put_inventory(session.client("s3"))
    assert main(args(manifest=f"s3://inventory/{key}"), session) == 0, capsys.readouterr().err
    sfn = session.client("stepfunctions")
    (started,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    described = sfn.describe_execution(executionArn=started["executionArn"])
    assert json.loads(described["input"]) == {"manifest": {"bucket": "inventory", "key": key}}


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("s3://elsewhere/m.csv", "not under the stack's BackfillManifestLocation"),
        ("s3://inventory/cms/list.txt", "neither an S3 Inventory manifest"),
        ("s3://inventory/cms/gone.csv", "Not Found"),
        ("s3://inventory/cms/all-versions/manifest.json", "every object version"),
    ],
)
def test_a_manifest_the_backfill_could_not_read_is_refused_before_anything_starts(
    deployed, capsys, manifest, message
):
    session, arn = deployed
    s3 = session.client("s3")
    s3.create_bucket(Bucket="inventory")
    every_version = {
        "destinationBucket": "arn:aws:s3:::inventory",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size",
        "files": [],
    }
    s3.put_object(
        Bucket="inventory", Key="cms/all-versions/manifest.json", Body=json.dumps(every_version)
    )
    assert main(args(manifest=manifest), session) == 2
    assert message in capsys.readouterr().err
    assert session.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"] == []
