"""``imgflow backfill --stack-name S``: the images already in the bucket, on AWS.

Starts the stack's backfill state machine (a Distributed Map over a prefix of
the source bucket, or over an S3 Inventory or CSV list with ``--manifest``,
docs/backfill.md). ``--dry-run`` lists the prefix (or reads the manifest)
instead, with the backfill's own filter, and prints what the run would cost;
nothing is started. Locally, ``imgflow run PATH --out DIR --backfill`` is the same.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from imgflow_toolkit.commands.run import _positive

POLL_SECONDS = 15.0  # --wait: seconds between DescribeExecution calls


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "backfill", help="process the images already in the source bucket (AWS)"
    )
    parser.add_argument("--stack-name", default="imgflow", help="the deployed imgflow stack")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--prefix", help="only keys under this raw prefix (default: KeyPrefix; it must be under it)"
    )
    source.add_argument(
        "--manifest",
        metavar="S3_URI",
        help="read the objects from an S3 Inventory (s3://.../manifest.json, CSV format, "
        "current versions) or a CSV list of bucket,key rows (s3://....csv, keys URL-encoded) "
        "instead of listing; under the stack's BackfillManifestLocation",
    )
    parser.add_argument(
        "--max-concurrency", type=_positive, metavar="N", help="images at once (default: template)"
    )
    parser.add_argument(
        "--tolerated-failure-percentage",
        type=float,
        metavar="P",
        help="stop once more than P%% of the images failed (default: template)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="count objects and bytes (of the listing or the manifest), print the cost; "
        "start nothing",
    )
    parser.add_argument("--wait", action="store_true", help="follow the backfill to its end")
    parser.add_argument(
        "--mb-per-megapixel",
        type=float,
        default=None,
        metavar="F",
        help="dry run: image size to pixels (default 0.3; docs/backfill.md)",
    )
    parser.add_argument(
        "--template", type=Path, help="template.yaml (cost model; default: nearest)"
    )
    parser.add_argument("--region", help="AWS region")
    parser.add_argument("--profile", help="AWS named profile")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace, boto_session: Any = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from imgflow.aws import backfill

    try:
        aws = boto_session or backfill.session(args.region, args.profile)
        found = backfill.find(aws, args.stack_name)
        if args.manifest:
            bucket, key = _manifest(args.manifest, found)
            if args.dry_run:
                listing = backfill.read_manifest(aws.client("s3"), bucket, key, found)
                return _dry_run(args, found, listing, args.manifest)
            backfill.check_manifest(aws.client("s3"), bucket, key)
            settings: dict[str, Any] = {"manifest": {"bucket": bucket, "key": key}}
            where = args.manifest
        else:
            prefix = found.default_prefix if args.prefix is None else args.prefix
            if not prefix.startswith(found.default_prefix):
                raise ValueError(
                    f"prefix {prefix!r} is not under the stack's KeyPrefix "
                    f"{found.default_prefix!r}: the backfill would match nothing there"
                )
            if args.dry_run:
                listing = backfill.list_objects(
                    aws.client("s3"), found.source_bucket, prefix, found.matches
                )
                return _dry_run(args, found, listing, f"s3://{found.source_bucket}/{prefix}")
            settings = {"prefix": prefix}
            where = f"s3://{found.source_bucket}/{prefix}"
        if args.max_concurrency is not None:
            settings["maxConcurrency"] = args.max_concurrency
        if args.tolerated_failure_percentage is not None:
            settings["toleratedFailurePercentage"] = args.tolerated_failure_percentage
        sfn = aws.client("stepfunctions")
        name = time.strftime("backfill-%Y%m%dT%H%M%SZ", time.gmtime())
        arn = backfill.start(sfn, found.state_machine_arn, settings, name)
        print(f"started {arn}")
        print(f"  {where}  settings {settings}")
        if not args.wait:
            return 0
        ended = backfill.wait(
            sfn, arn, poll_seconds=POLL_SECONDS, report=_report_progress(sfn, arn)
        )
    except (ValueError, LookupError, BotoCoreError, ClientError) as exc:
        print(f"imgflow backfill: {exc}", file=sys.stderr)
        return 2
    print(f"{ended['status']}: {ended.get('output') or ended.get('cause') or ''}")
    return 0 if ended["status"] == "SUCCEEDED" else 1


def _manifest(uri: str, found: Any) -> tuple[str, str]:
    """The manifest's bucket and key, if the stack's backfill may read it."""
    from imgflow.aws import backfill
    from imgflow.manifests import manifest_kind

    bucket, key = backfill.parse_s3_uri(uri)
    manifest_kind(key)
    location = found.manifest_location
    if not location:
        raise ValueError(
            "the stack's BackfillManifestLocation is empty, so its backfill may not read "
            "manifests: deploy with BackfillManifestLocation=<bucket>/<prefix>"
        )
    if not f"{bucket}/{key}".startswith(location):
        raise ValueError(
            f"{uri} is not under the stack's BackfillManifestLocation s3://{location}: "
            "the backfill's role could not read it"
        )
    return bucket, key


# A CSV list has no sizes: each of its images is priced as this many bytes.
UNSIZED_IMAGE_BYTES = 1_000_000


def _dry_run(args: argparse.Namespace, found: Any, listing: Any, where: str) -> int:
    from imgflow_toolkit.local.runtime import find_template
    from imgflow_toolkit.report import backfill_cost

    assumptions = backfill_cost.Assumptions()
    if args.mb_per_megapixel is not None:
        assumptions = backfill_cost.Assumptions(mb_per_megapixel=args.mb_per_megapixel)
    priced_bytes, note = _priced_bytes(listing)
    lists = listing.pages if listing.kind == "listing" else 0  # a manifest is read, not listed
    plan = backfill_cost.Plan.from_sizes(
        listing.objects, listing.images, priced_bytes, lists, assumptions
    )
    template = args.template or find_template()
    # The deployed stack's parameters, where this template declares them (memory sizes).
    declared = backfill_cost.declared_parameters(template)
    parameters = {k: v for k, v in found.parameters.items() if k in declared}
    result = backfill_cost.estimate(plan, template.parent, parameters, assumptions)
    read = (
        f"{listing.pages:,} ListObjectsV2 pages"
        if listing.kind == "listing"
        else f"{listing.kind}, {listing.pages:,} data file(s)"
    )
    print(
        f"dry run: {where} ({read}): {listing.objects:,} objects, {listing.bytes:,} bytes; "
        f"{listing.images:,} images, {listing.image_bytes:,} bytes"
    )
    if note:
        print(note)
    print(backfill_cost.format_estimate(result))
    return 0


def _priced_bytes(listing: Any) -> tuple[int, str | None]:
    """The image bytes the estimate prices, and what it assumed for images without a size."""
    unsized = listing.unsized_images
    if not unsized:
        return listing.image_bytes, None
    sized = listing.images - unsized
    if sized:
        mean = listing.image_bytes // sized
        return listing.image_bytes + unsized * mean, (
            f"{unsized:,} of the {listing.images:,} images have no Size in the manifest: "
            f"not in the bytes above; priced at the mean of the others ({mean:,} bytes)"
        )
    return unsized * UNSIZED_IMAGE_BYTES, (
        f"the manifest gives no sizes ({unsized:,} images): bytes unknown; each image priced "
        f"as {UNSIZED_IMAGE_BYTES:,} bytes"
    )


def _report_progress(sfn: Any, arn: str) -> Any:
    from imgflow.aws import backfill

    def report(description: dict[str, Any]) -> None:
        counts = backfill.map_run_counts(sfn, arn)
        done = "" if counts is None else f"  items {counts}"
        print(f"{time.strftime('%H:%M:%S')} {description['status']}{done}", flush=True)

    return report
