"""The backfill on AWS, through boto3: find it in the stack, list what it would process,
start it, follow it.

The filter a listing is counted with is the deployed backfill definition's own
(imgflow.backfill), so a dry run counts what the Distributed Map would run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imgflow.aws.stepfunctions import TERMINAL_STATUSES
from imgflow.backfill import (
    CSV_LIST_STATE,
    INVENTORY_STATE,
    KeyFilter,
    Listing,
    key_patterns,
    listed_prefix,
)
from imgflow.manifests import (
    CSV_LIST,
    CSV_LIST_FIELDS,
    INVENTORY,
    InventoryManifest,
    csv_rows,
    manifest_kind,
)


@dataclass(frozen=True)
class Backfill:
    """A deployed stack's backfill state machine and what it reads."""

    state_machine_arn: str
    source_bucket: str
    definition: dict[str, Any]
    parameters: dict[str, str]  # the stack's template parameters

    @property
    def default_prefix(self) -> str:
        return listed_prefix(self.definition)

    @property
    def matches(self) -> KeyFilter:
        return KeyFilter(key_patterns(self.definition))

    def manifest_matches(self, kind: str) -> KeyFilter:
        """The filter of a manifest's items: the upload rule's patterns, URL-encoded keys."""
        state = INVENTORY_STATE if kind == INVENTORY else CSV_LIST_STATE
        return KeyFilter(key_patterns(self.definition, state))

    @property
    def manifest_location(self) -> str:
        """BackfillManifestLocation: the bucket/prefix its role may read manifests under."""
        return self.parameters.get("BackfillManifestLocation", "")


def session(region: str | None = None, profile: str | None = None) -> Any:
    import boto3

    return boto3.Session(profile_name=profile, region_name=region)


def find(boto_session: Any, stack_name: str) -> Backfill:
    """The backfill of a deployed imgflow stack (its outputs and its live definition)."""
    cloudformation = boto_session.client("cloudformation")
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if "BackfillStateMachineArn" not in outputs:
        raise LookupError(
            f"stack {stack_name} has no BackfillStateMachineArn output: "
            "deploy this version of template.yaml first"
        )
    arn = outputs["BackfillStateMachineArn"]
    described = boto_session.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
    return Backfill(
        state_machine_arn=arn,
        source_bucket=outputs["SourceBucketName"],
        definition=json.loads(described["definition"]),
        parameters={p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
    )


def list_objects(
    s3: Any, bucket: str, prefix: str, matches: KeyFilter, page_size: int | None = None
) -> Listing:
    """Every object under ``prefix``, counted, as the ItemReader lists them (all pages)."""
    listing = Listing()
    config = {"PageSize": page_size} if page_size else {}
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig=config
    )
    for page in pages:
        listing.pages += 1
        for item in page.get("Contents", []):
            listing.add(int(item["Size"]), matches(item["Key"]))
    return listing


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise ValueError(f"{uri!r} is not an s3://bucket/key URI")
    return bucket, key


def check_manifest(s3: Any, bucket: str, key: str) -> InventoryManifest | None:
    """Fail before anything starts if the manifest cannot be what the backfill reads:
    missing, not a CSV inventory's manifest.json, or an inventory of every version.
    Returns the inventory's manifest (None for a CSV list)."""
    kind = manifest_kind(key)
    if kind == CSV_LIST:
        s3.head_object(Bucket=bucket, Key=key)
        return None
    manifest = InventoryManifest.parse(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    manifest.check_current_versions_only()
    return manifest


def read_manifest(s3: Any, bucket: str, key: str, found: Backfill) -> Listing:
    """Every row of an S3 Inventory or a CSV list, counted with the backfill's own filter
    (the source bucket, the upload rule's patterns on the URL-encoded key)."""
    kind = manifest_kind(key)
    listing = Listing(kind=kind)
    matches = found.manifest_matches(kind)
    inventory = check_manifest(s3, bucket, key)
    if inventory is None:
        files = [(bucket, key, CSV_LIST_FIELDS)]
    else:
        files = [(inventory.bucket, f, inventory.fields) for f in inventory.files]
    for file_bucket, file_key, fields in files:
        listing.pages += 1
        data = s3.get_object(Bucket=file_bucket, Key=file_key)["Body"].read()
        for item in csv_rows(data, fields, f"s3://{file_bucket}/{file_key}"):
            listing.add_item(item, found.source_bucket, matches)
    return listing


def start(sfn: Any, state_machine_arn: str, settings: dict[str, Any], name: str) -> str:
    """Start a backfill with these settings ({"prefix", "maxConcurrency", ...}); its ARN."""
    started = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(settings)
    )
    return started["executionArn"]


def wait(
    sfn: Any,
    execution_arn: str,
    *,
    poll_seconds: float = 15.0,
    report: Callable[[dict[str, Any]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll until the backfill ends; ``report`` gets each description. Its last one."""
    while True:
        description = sfn.describe_execution(executionArn=execution_arn)
        if report is not None:
            report(description)
        if description["status"] in TERMINAL_STATUSES:
            return description
        sleep(poll_seconds)


def map_run_counts(sfn: Any, execution_arn: str) -> dict[str, int] | None:
    """The item counts of the backfill's map run (succeeded, failed, ...), once it has one."""
    runs = sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
    if not runs:
        return None
    described = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    return {k: int(v) for k, v in described.get("itemCounts", {}).items()}
