"""``imgflow run PATH... --out DIR``: images through the real workflow, locally."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

# option -> template parameter
PARAMETER_OPTIONS = {
    "in_place": "InPlace",
    "metadata_policy": "MetadataPolicy",
    "max_pixels": "MaxImagePixels",
    "max_bytes": "MaxImageBytes",
    "key_prefix": "KeyPrefix",
    "mode": "CompressionMode",
    "quality_target": "QualityTarget",
}


class ProgressBar:
    """``[#####.....] 3/5 images done`` on stderr, redrawn in place on a terminal."""

    def __init__(
        self, stream: TextIO | None = None, width: int = 30, *, unit: str = "images done"
    ) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.unit = unit
        self.started = time.monotonic()
        self.tty = self.stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        filled = round(self.width * done / max(total, 1))
        bar = "#" * filled + "." * (self.width - filled)
        line = f"[{bar}] {done}/{total} {self.unit}"
        if self.tty:
            end = "\n" if done == total else ""
            self.stream.write(f"\r{line}{end}")
        elif done == total:
            self.stream.write(f"{line} in {time.monotonic() - self.started:.1f} s\n")
        self.stream.flush()


def add_parameter_options(parser: Any) -> None:
    """The template parameters a local run can change (the rest keep their defaults)."""
    parser.add_argument("--in-place", action="store_const", const="true", help="InPlace=true")
    parser.add_argument("--metadata-policy", choices=["keep", "strip_gps", "strip_all"])
    parser.add_argument("--max-pixels", type=int, help="MaxImagePixels")
    parser.add_argument("--max-bytes", type=int, help="MaxImageBytes")
    parser.add_argument("--key-prefix", help="KeyPrefix")
    parser.add_argument("--mode", choices=["lossless", "lossy"], help="CompressionMode")
    parser.add_argument(
        "--quality-target", type=float, help="QualityTarget (SSIMULACRA2, lossy mode)"
    )


def register(commands: Any) -> None:
    run = commands.add_parser(
        "run", help="run images through the real state machine on the embedded AWS"
    )
    run.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files or folders")
    run.add_argument("--out", required=True, type=Path, metavar="DIR", help="where results go")
    run.add_argument("--template", type=Path, help="template.yaml (default: nearest one)")
    run.add_argument(
        "--concurrency",
        type=_positive,
        metavar="N",
        help="worker processes per function, as Lambda's concurrency (default: one per core)",
    )
    run.add_argument(
        "--duration-factor",
        type=_positive_float,
        default=1.0,
        metavar="F",
        help="cost estimate: Lambda duration = CPU-time model x F (docs/cost.md; default 1)",
    )
    run.add_argument(
        "--arm-factor",
        type=_positive_float,
        default=1.0,
        metavar="F",
        help="cost estimate: arm64 duration = x86_64 duration x F (default 1, not measured)",
    )
    run.add_argument(
        "--backfill",
        action="store_true",
        help="the files are objects from before the stack (no upload events): "
        "the backfill state machine processes them",
    )
    add_parameter_options(run)
    run.set_defaults(handler=main)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {value}")
    return value


def template_parameters(args: argparse.Namespace) -> dict[str, str]:
    """The template parameters the options set (the rest keep their defaults)."""
    return {
        name: str(getattr(args, option))
        for option, name in PARAMETER_OPTIONS.items()
        if getattr(args, option, None) is not None
    }


# Above this many images the terminal shows the overview, not one line per image.
TABLE_LIMIT = 40


def main(args: argparse.Namespace) -> int:
    from imgflow_toolkit.local.run import run
    from imgflow_toolkit.report import cost
    from imgflow_toolkit.report.images import format_table
    from imgflow_toolkit.report.summary import format_overview, quality_target, summarise

    try:
        reports = run(
            args.paths,
            args.out,
            template_parameters(args),
            args.template,
            ProgressBar(),
            workers=args.concurrency,
            cost_assumptions=cost.Assumptions(
                duration_factor=args.duration_factor, arm_factor=args.arm_factor
            ),
            backfill=args.backfill,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"imgflow run: {exc}", file=sys.stderr)
        return 2
    if len(reports) <= TABLE_LIMIT:
        print(format_table(reports))
    else:
        manifest = json.loads((args.out / "run.json").read_text())
        print(format_overview(summarise(reports, quality_target(manifest))))
    print()
    print(cost.format_cost_table(cost.load(args.out)))
    print(f"\nresults: {args.out / 'compressed'}  failed: {args.out / 'failed'}")
    print(f"report:  {args.out / 'report.html'}  (data: {args.out / 'report.json'})")
    print(f"cost:    {args.out / cost.FILE}")
    return 0
