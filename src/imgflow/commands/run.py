"""``imgflow run PATH... --out DIR``: images through the real workflow, locally."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

# option -> template parameter
PARAMETER_OPTIONS = {
    "in_place": "InPlace",
    "metadata_policy": "MetadataPolicy",
    "max_pixels": "MaxImagePixels",
    "max_bytes": "MaxImageBytes",
    "key_prefix": "KeyPrefix",
}


def register(commands: Any) -> None:
    run = commands.add_parser(
        "run", help="run images through the real state machine on the embedded AWS"
    )
    run.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files or folders")
    run.add_argument("--out", required=True, type=Path, metavar="DIR", help="where results go")
    run.add_argument("--template", type=Path, help="template.yaml (default: nearest one)")
    run.add_argument("--in-place", action="store_const", const="true", help="InPlace=true")
    run.add_argument("--metadata-policy", choices=["keep", "strip_gps", "strip_all"])
    run.add_argument("--max-pixels", type=int, help="MaxImagePixels")
    run.add_argument("--max-bytes", type=int, help="MaxImageBytes")
    run.add_argument("--key-prefix", help="KeyPrefix")
    run.set_defaults(handler=main)


def template_parameters(args: argparse.Namespace) -> dict[str, str]:
    """The template parameters the options set (the rest keep their defaults)."""
    return {
        name: str(getattr(args, option))
        for option, name in PARAMETER_OPTIONS.items()
        if getattr(args, option, None) is not None
    }


def main(args: argparse.Namespace) -> int:
    from imgflow.local.run import run
    from imgflow.ops.report import format_table

    try:
        reports = run(args.paths, args.out, template_parameters(args), args.template)
    except (FileNotFoundError, ValueError) as exc:
        print(f"imgflow run: {exc}", file=sys.stderr)
        return 2
    print(format_table(reports))
    print(f"\nresults: {args.out / 'compressed'}  failed: {args.out / 'failed'}")
    print(f"report:  {args.out / 'report.json'}")
    return 0
