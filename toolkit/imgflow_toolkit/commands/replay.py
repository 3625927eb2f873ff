"""``imgflow replay``: run failed executions again, on AWS or from a local run folder.

On AWS (``--state-machine-arn`` or ``--stack-name``): every FAILED execution
since ``--since`` (of one ``--error``, if given) is redriven where AWS allows
it, else started anew with its original input as ``<name>-replay-<n>``.
Locally (``--run DIR``): the failures of an ``imgflow run`` output folder
run again on the embedded AWS, with changed template parameters (say
``--max-pixels`` after raising a limit); DIR's reports are updated.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imgflow_toolkit.commands.run import ProgressBar, add_parameter_options, template_parameters


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "replay", help="replay failed executions (AWS: redrive or restart; local: --run DIR)"
    )
    parser.add_argument("--run", type=Path, metavar="DIR", help="replay a local run's failures")
    parser.add_argument("--key", action="append", help="only this image key (local; repeatable)")
    parser.add_argument("--error", metavar="TYPE", help="only failures of this error type")
    parser.add_argument("--state-machine-arn", metavar="ARN", help="the workflow on AWS")
    parser.add_argument(
        "--stack-name", default="imgflow", help="find the workflow in this stack's outputs"
    )
    parser.add_argument("--since", default="24h", help="30m, 24h, 7d or an ISO date (AWS)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be done (AWS)")
    parser.add_argument("--wait", action="store_true", help="wait for the replays to end (AWS)")
    parser.add_argument("--region", help="AWS region")
    parser.add_argument("--profile", help="AWS named profile")
    add_parameter_options(parser)
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace, sfn_client: Any = None) -> int:
    if args.run is not None:
        return _local(args)
    return _aws(args, sfn_client)


def _local(args: argparse.Namespace) -> int:
    from imgflow_toolkit.local.run import replay_failures
    from imgflow_toolkit.report.images import format_table

    if not (args.run / "report.json").is_file():
        print(
            f"imgflow replay: {args.run} holds no report.json (an imgflow run DIR?)",
            file=sys.stderr,
        )
        return 2
    try:
        replayed = replay_failures(
            args.run,
            template_parameters(args),
            args.key,
            args.error,
            ProgressBar(unit="executions ended"),
        )
    except (FileNotFoundError, LookupError) as exc:
        print(f"imgflow replay: {exc}", file=sys.stderr)
        return 2
    if not replayed:
        print(f"no failed images to replay in {args.run / 'report.json'}")
        return 0
    for r in replayed:
        was = r.before["outcome"]
        if r.before.get("error"):
            was += f" ({r.before['error']['type']})"
        now = r.after.outcome + (f" ({r.after.error.type})" if r.after.error else "")
        print(f"{r.key}: {was} -> {now}")
        print(f"  execution {(r.after.execution or '').rsplit(':', 1)[-1]}")
    print()
    print(format_table([r.after for r in replayed]))
    print(f"\nreport:  {args.run / 'report.html'}  (data: {args.run / 'report.json'})")
    return 0


def _aws(args: argparse.Namespace, sfn_client: Any) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from imgflow.aws.stepfunctions import StepFunctions, client, state_machine_from_stack
    from imgflow_toolkit.executions.replay import format_results, parse_since, replay

    now = datetime.now(UTC)
    try:
        since = parse_since(args.since, now)
        machine = args.state_machine_arn or state_machine_from_stack(
            args.stack_name, args.region, args.profile
        )
        api = StepFunctions(sfn_client or client(args.region, args.profile))
        results = replay(
            api, machine, since, error=args.error, dry_run=args.dry_run, wait=args.wait, now=now
        )
    except (ValueError, LookupError, BotoCoreError, ClientError) as exc:
        print(f"imgflow replay: {exc}", file=sys.stderr)
        return 2
    verb = "would replay" if args.dry_run else "replayed"
    print(
        f"{machine}: {len(results)} failed execution(s) since {since:%Y-%m-%d %H:%M} UTC, {verb}:"
    )
    print(format_results(results))
    return 0
