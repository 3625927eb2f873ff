"""``imgflow invoke FUNCTION --event FILE``: ``sam local invoke`` without Docker.

The function's handler runs in-process with the environment template.yaml
gives it, against the embedded AWS (its buckets and topic created from the
same template). ``--seed`` first puts the objects the event names, read from
samples/ (or ``--seed-dir``), into their buckets.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from imgflow_toolkit.commands.run import add_parameter_options, template_parameters


def register(commands: Any) -> None:
    invoke = commands.add_parser(
        "invoke", help="invoke one function with an event, like sam local invoke (no Docker)"
    )
    invoke.add_argument(
        "function",
        metavar="FUNCTION",
        help="logical id in template.yaml, or a short name: "
        "validate, compress, compress-large, store, notify, quarantine",
    )
    invoke.add_argument(
        "--event", "-e", required=True, metavar="FILE", help="event JSON file ('-' for stdin)"
    )
    invoke.add_argument(
        "--seed", action="store_true", help="put the objects the event names into their buckets"
    )
    invoke.add_argument(
        "--seed-dir", type=Path, metavar="DIR", help="where --seed reads them (default: samples/)"
    )
    invoke.add_argument("--template", type=Path, help="template.yaml (default: nearest one)")
    add_parameter_options(invoke)
    invoke.set_defaults(handler=main)


def resolve_function(name: str, logical_ids: list[str]) -> str:
    """A logical id from an exact id, or a case-insensitive short name.

    A short name is the start of an id, dashes ignored (``compress-large``);
    where several ids start with it, the shortest one is meant (``compress``
    is CompressImageFunction, not CompressLargeImageFunction).
    """
    if name in logical_ids:
        return name
    wanted = name.lower().replace("-", "")
    matches = [i for i in logical_ids if i.lower().startswith(wanted)]
    shortest = [i for i in matches if len(i) == min(map(len, matches))] if matches else []
    if len(shortest) == 1:
        return shortest[0]
    choices = ", ".join(sorted(logical_ids))
    if matches:
        raise LookupError(f"{name!r} matches several functions: {', '.join(matches)}")
    raise LookupError(f"no function {name!r} in the template; choose one of {choices}")


def main(args: argparse.Namespace) -> int:
    from imgflow_toolkit.local.runtime import EmbeddedStack
    from imgflow_toolkit.local.seed import objects_named

    try:
        text = sys.stdin.read() if args.event == "-" else Path(args.event).read_text()
        event = json.loads(text)
    except (OSError, ValueError) as exc:
        print(f"imgflow invoke: cannot read the event {args.event}: {exc}", file=sys.stderr)
        return 2
    with EmbeddedStack(args.template, template_parameters(args)) as stack:
        try:
            logical = resolve_function(args.function, list(stack.spec.functions))
        except LookupError as exc:
            print(f"imgflow invoke: {exc}", file=sys.stderr)
            return 2
        if args.seed:
            seed_dir = args.seed_dir or stack.template_path.parent / "samples"
            for bucket, key in objects_named(event):
                # A seeded object must not start the workflow: only the function runs.
                stack.s3.put_bucket_notification_configuration(
                    Bucket=bucket, NotificationConfiguration={}
                )
                source = seed_dir / key
                if not source.is_file():
                    print(
                        f"imgflow invoke: cannot seed s3://{bucket}/{key}: no {source}",
                        file=sys.stderr,
                    )
                    return 2
                stack.s3.put_object(Bucket=bucket, Key=key, Body=source.read_bytes())
                print(f"seeded s3://{bucket}/{key} from {source}", file=sys.stderr)
        try:
            response = stack.invoke(logical, event)
        except Exception as exc:  # the handler's error is the result, as with sam local invoke
            print(json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}))
            print(f"{logical} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(response, indent=2, ensure_ascii=False, default=str))
    return 0
