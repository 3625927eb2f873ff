"""``imgflow graph EXECUTION``: the console's execution graph, in the terminal and as SVG.

EXECUTION is one of
- with ``--run DIR``: an image key, execution name or ARN of that local run
  (drawn from the history ``imgflow run`` saved under DIR/executions/);
- a saved execution file (DIR/executions/NAME.json), or a recorded
  ``get-execution-history`` JSON with ``--definition FILE``;
- an execution ARN on AWS (``--region``/``--profile``; the region defaults
  to the ARN's): drawn from GetExecutionHistory and
  DescribeStateMachineForExecution.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from imgflow_toolkit.executions import history, svg, text, trace


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "graph", help="draw an execution's graph: path taken, failed state (text and SVG)"
    )
    parser.add_argument("execution", metavar="EXECUTION", help="key, name, ARN or history file")
    parser.add_argument("--run", type=Path, metavar="DIR", help="an imgflow run output folder")
    parser.add_argument(
        "--out", type=Path, metavar="FILE.svg", help="the SVG (default: DIR/graphs/NAME.svg)"
    )
    parser.add_argument(
        "--definition", type=Path, metavar="FILE", help="ASL for a recorded history file"
    )
    parser.add_argument("--region", help="AWS region (default: the ARN's)")
    parser.add_argument("--profile", help="AWS named profile")
    parser.set_defaults(handler=main)


def load(args: argparse.Namespace, sfn_client: Any = None) -> history.SavedExecution:
    """The execution to draw, from a run folder, a file, or AWS."""
    if args.run is not None:
        reports = json.loads((args.run / "report.json").read_text())
        return history.find(args.run, args.execution, reports)
    path = Path(args.execution)
    if path.suffix == ".json" and path.is_file():
        data = json.loads(path.read_text())
        if "execution" in data and "definition" in data:
            return history.SavedExecution.from_json(path.read_text())
        if args.definition is None:
            raise ValueError(f"{path} holds events only: give the ASL with --definition FILE")
        definition = json.loads(args.definition.read_text())
        return history.SavedExecution({"executionArn": str(path)}, definition, data["events"])
    if args.execution.startswith("arn:"):
        from imgflow.aws.stepfunctions import StepFunctions, client, region_of

        api = StepFunctions(
            sfn_client or client(args.region or region_of(args.execution), args.profile)
        )
        description = api.describe(args.execution)
        definition = json.loads(api.definition_for_execution(args.execution))
        return history.SavedExecution(description, definition, api.history(args.execution))
    raise ValueError(
        f"{args.execution!r} is not an execution ARN or a .json file; "
        "for a local run give --run DIR and an image key"
    )


def main(args: argparse.Namespace, sfn_client: Any = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        execution = load(args, sfn_client)
    except (OSError, ValueError, LookupError, BotoCoreError, ClientError) as exc:
        print(f"imgflow graph: {exc}", file=sys.stderr)
        return 2
    status = execution.description.get("status")
    run = trace.trace(execution.definition, execution.events, status)
    title = _title(execution)
    print(text.render_text(execution.definition, run, title, colour=sys.stdout.isatty()))
    default = args.run / "graphs" if args.run is not None else Path()
    out = args.out or default / f"{execution.name}.svg"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(svg.render_svg(execution.definition, run, title) + "\n")
    print(f"\ngraph: {out}")
    return 0


def _title(execution: history.SavedExecution) -> str:
    """The image's key and the execution's name, when the input names an object."""
    from imgflow.errors import InvalidEventError
    from imgflow.trigger import source_from_event

    started = [
        e["executionStartedEventDetails"].get("input")
        for e in execution.events
        if "executionStartedEventDetails" in e
    ]
    payload = execution.description.get("input") or (started[0] if started else None)
    try:
        key = source_from_event(json.loads(payload or "{}")).key
    except (InvalidEventError, ValueError):
        return execution.name
    return f"{key}  (execution {execution.name})"
