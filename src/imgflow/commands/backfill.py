"""``imgflow backfill --stack-name S``: the images already in the bucket, on AWS.

Starts the stack's backfill state machine (a Distributed Map over a prefix of
the source bucket, docs/backfill.md). ``--dry-run`` lists the prefix instead,
with the backfill's own filter, and prints what the run would cost; nothing
is started. Locally, ``imgflow run PATH --out DIR --backfill`` is the same.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from imgflow.commands.run import _positive

POLL_SECONDS = 15.0  # --wait: seconds between DescribeExecution calls


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "backfill", help="process the images already in the source bucket (AWS)"
    )
    parser.add_argument("--stack-name", default="imgflow", help="the deployed imgflow stack")
    parser.add_argument(
        "--prefix", help="only keys under this raw prefix (default: KeyPrefix; it must be under it)"
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
        help="count objects and bytes, print the cost; start nothing",
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
        prefix = found.default_prefix if args.prefix is None else args.prefix
        if not prefix.startswith(found.default_prefix):
            raise ValueError(
                f"prefix {prefix!r} is not under the stack's KeyPrefix "
                f"{found.default_prefix!r}: the backfill would match nothing there"
            )
        if args.dry_run:
            return _dry_run(args, aws, found, prefix)
        settings: dict[str, Any] = {"prefix": prefix}
        if args.max_concurrency is not None:
            settings["maxConcurrency"] = args.max_concurrency
        if args.tolerated_failure_percentage is not None:
            settings["toleratedFailurePercentage"] = args.tolerated_failure_percentage
        sfn = aws.client("stepfunctions")
        name = time.strftime("backfill-%Y%m%dT%H%M%SZ", time.gmtime())
        arn = backfill.start(sfn, found.state_machine_arn, settings, name)
        print(f"started {arn}")
        print(f"  s3://{found.source_bucket}/{prefix}  settings {settings}")
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


def _dry_run(args: argparse.Namespace, aws: Any, found: Any, prefix: str) -> int:
    from imgflow.aws import backfill
    from imgflow.local.runtime import find_template
    from imgflow.ops import backfill_cost

    listing = backfill.list_objects(aws.client("s3"), found.source_bucket, prefix, found.matches)
    assumptions = backfill_cost.Assumptions()
    if args.mb_per_megapixel is not None:
        assumptions = backfill_cost.Assumptions(mb_per_megapixel=args.mb_per_megapixel)
    plan = backfill_cost.Plan.from_sizes(
        listing.objects, listing.images, listing.image_bytes, listing.pages, assumptions
    )
    template = args.template or find_template()
    # The deployed stack's parameters, where this template declares them (memory sizes).
    declared = backfill_cost.declared_parameters(template)
    parameters = {k: v for k, v in found.parameters.items() if k in declared}
    result = backfill_cost.estimate(plan, template.parent, parameters, assumptions)
    print(
        f"dry run: s3://{found.source_bucket}/{prefix}: {listing.objects:,} objects, "
        f"{listing.bytes:,} bytes; {listing.images:,} images, {listing.image_bytes:,} bytes"
    )
    print(backfill_cost.format_estimate(result))
    return 0


def _report_progress(sfn: Any, arn: str) -> Any:
    from imgflow.aws import backfill

    def report(description: dict[str, Any]) -> None:
        counts = backfill.map_run_counts(sfn, arn)
        done = "" if counts is None else f"  items {counts}"
        print(f"{time.strftime('%H:%M:%S')} {description['status']}{done}", flush=True)

    return report
