"""The ``imgflow`` command: parses arguments and hands over to imgflow_toolkit.commands."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each name is a module in imgflow_toolkit.commands with register(subparsers).
COMMANDS = ["run", "backfill", "invoke", "graph", "replay", "score"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="imgflow", description="Serverless image optimiser: local runtime and tools."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"imgflow_toolkit.commands.{name}").register(subparsers)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
