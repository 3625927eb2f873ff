"""Benchmark imgflow's JPEG compression against the baselines, on the same files in the same run.

    python benchmarks/bench_jpeg.py [DIR ...] [--target 85] [--jobs 2] [--exact]

Methods (every one keeps the input when its output would be larger, as the
product does, so "bytes saved" is never negative):

- imgflow          the product's default lossy mode (``compress``, target 85)
- mozjpeg lossless the lossless mode: entropy re-coding, pixels untouched
- pillow q20       libjpeg-turbo (Pillow) at quality 20
- libjpeg-turbo q85  Pillow's default quality 85, 4:2:0
- jpegli q85       pyjpegli at quality 85
- naive bisection  jpegli, integer quality bisected in 1..100 for the target
                   (each step scores from scratch), then mozjpeg lossless, with
                   the source's EXIF/ICC/XMP put back as the product must
                   (pyjpegli drops them; the fixed-quality rows keep none)

Scores are SSIMULACRA2 against the decoded input with the product's search
metric (exact reference arithmetic from scale 1:4 down); ``--exact`` also
rescores imgflow's outputs with the full reference arithmetic (slow).
Seconds are CPU seconds of one process with single-threaded BLAS (one core).
Only JPEG inputs are measured; other files are listed as skipped.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core, before numpy loads

import argparse
import io
import platform
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import mozjpeg_lossless_optimization as mozjpeg
import pyjpegli
from PIL import Image

from imgflow.imaging import jpeg, lossy, quality
from imgflow.imaging.compress import compress
from imgflow.imaging.validate import inspect
from imgflow.settings import CompressionMode, Limits, MetadataPolicy

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "photos"
OURS, NAIVE, LOSSLESS = "imgflow (default lossy)", "naive bisection", "mozjpeg lossless"


@dataclass
class Row:
    method: str
    file: str
    megapixels: float
    bytes_in: int
    bytes_out: int
    score: float
    seconds: float
    exact_score: float | None = None


def _ours(data: bytes, target: float) -> bytes:
    result = compress(
        data,
        inspect(data, Limits()),
        mode=CompressionMode.LOSSY,
        metadata_policy=MetadataPolicy.KEEP,
        quality_target=target,
    )
    return result.data


def _pillow(quality_setting: int) -> Callable[[bytes, float], bytes]:
    def encode(data: bytes, target: float) -> bytes:
        with Image.open(io.BytesIO(data)) as image:
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=quality_setting)
        return buffer.getvalue()

    return encode


def _jpegli_q85(data: bytes, target: float) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
    return pyjpegli.encode(rgb.tobytes(), rgb.width, rgb.height, 85)


def _naive(data: bytes, target: float) -> bytes:
    """Bisection on jpegli quality, scoring each candidate from scratch."""
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
    raw = rgb.tobytes()
    lo, hi, best = 1, 100, None
    while lo <= hi:
        middle = (lo + hi) // 2
        candidate = pyjpegli.encode(raw, rgb.width, rgb.height, middle)
        reference = quality.Reference(
            quality.linear_rgb(rgb, orient=False), exact_from=lossy.EXACT_FROM
        )
        with Image.open(io.BytesIO(candidate)) as decoded:
            score = reference.score(quality.linear_rgb(decoded, orient=False))
        if score >= target:
            best, hi = candidate, middle - 1
        else:
            lo = middle + 1
    # The source's metadata goes back in, as the product must (orientation, ICC).
    return jpeg.with_metadata(mozjpeg.optimize(best), data) if best is not None else data


METHODS: dict[str, Callable[[bytes, float], bytes]] = {
    OURS: _ours,
    LOSSLESS: lambda data, target: jpeg.optimize_lossless(data),
    "pillow q20": _pillow(20),
    "libjpeg-turbo q85": _pillow(85),
    "jpegli q85": _jpegli_q85,
    NAIVE: _naive,
}


def measure(job: tuple[str, float, bool]) -> list[Row]:
    """Every method on one file (runs in a worker process)."""
    path, target, exact = job
    data = Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        megapixels = image.width * image.height / 1e6
        reference = quality.Reference(
            quality.linear_rgb(image, orient=False), exact_from=lossy.EXACT_FROM
        )
        original = image.copy()
    rows = []
    for method, run in METHODS.items():
        started = time.process_time()
        output = run(data, target)
        seconds = time.process_time() - started
        if len(output) >= len(data):
            output = data  # never larger: the product keeps the original
        with Image.open(io.BytesIO(output)) as decoded:
            score = reference.score(quality.linear_rgb(decoded, orient=False))
        row = Row(method, Path(path).name, megapixels, len(data), len(output), score, seconds)
        if exact and method == OURS:
            with Image.open(io.BytesIO(output)) as decoded:
                row.exact_score = quality.score_images(original, decoded)
        rows.append(row)
    return rows


def table(rows: list[Row]) -> str:
    by_method: dict[str, list[Row]] = {}
    for row in rows:
        by_method.setdefault(row.method, []).append(row)
    saved = {m: sum(r.bytes_in - r.bytes_out for r in rs) for m, rs in by_method.items()}
    lines = [
        "| method | files | bytes in | bytes out | saved | saved / ours | ours / this "
        "| min score | median score | median s/MP |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for method, rs in by_method.items():
        total_in = sum(r.bytes_in for r in rs)
        total_out = sum(r.bytes_out for r in rs)
        ours_vs = saved[OURS] / saved[method] if saved[method] > 0 else float("inf")
        lines.append(
            f"| {method} | {len(rs)} | {total_in:,} | {total_out:,} "
            f"| {saved[method]:,} ({100 * saved[method] / total_in:.1f}%) "
            f"| {saved[method] / saved[OURS]:.3f} | {ours_vs:.3f} "
            f"| {min(r.score for r in rs):.2f} | {statistics.median(r.score for r in rs):.2f} "
            f"| {statistics.median(r.seconds / r.megapixels for r in rs):.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", type=Path, default=[DEFAULT_DIR])
    parser.add_argument("--target", type=float, default=85.0)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--exact", action="store_true", help="rescore imgflow's outputs exactly")
    parser.add_argument("--per-file", action="store_true", help="also print every file's row")
    args = parser.parse_args(argv)

    files, skipped = [], []
    for folder in args.dirs:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            (files if path.read_bytes()[:3] == b"\xff\xd8\xff" else skipped).append(path)
    if not files:
        print(f"no JPEG files under {', '.join(map(str, args.dirs))}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    jobs = [(str(p), args.target, args.exact) for p in files]
    # Largest first, so the two workers finish together.
    jobs.sort(key=lambda job: -Path(job[0]).stat().st_size)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        rows = [row for result in pool.map(measure, jobs) for row in result]
    elapsed = time.perf_counter() - started

    print(f"imgflow JPEG benchmark, target SSIMULACRA2 >= {args.target:g}")
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {_cpu()}, "
        f"Python {platform.python_version()}, {args.jobs} worker(s), {elapsed:.0f} s wall"
    )
    print(
        f"inputs: {len(files)} JPEG files from {', '.join(map(str, args.dirs))}"
        + (f"; skipped {len(skipped)} non-JPEG" if skipped else "")
    )
    print()
    print(table(rows))
    ours = [r for r in rows if r.method == OURS]
    if args.exact:
        exact = [r.exact_score for r in ours if r.exact_score is not None]
        print(
            f"\nimgflow outputs rescored with the full reference arithmetic: "
            f"min {min(exact):.2f}, median {statistics.median(exact):.2f}"
        )
    larger = sum(r.bytes_out > r.bytes_in for r in ours)
    below = sum(r.score < args.target for r in ours)
    print(f"\nimgflow: {below} output(s) below the target, {larger} larger than the input")
    if args.per_file:
        print()
        for r in sorted(rows, key=lambda r: (r.file, r.method)):
            print(
                f"{r.file:32} {r.method:24} {r.bytes_in:>10,} {r.bytes_out:>10,} "
                f"{r.score:7.2f} {r.seconds / r.megapixels:6.2f} s/MP"
                + (f" exact {r.exact_score:.2f}" if r.exact_score is not None else "")
            )
    return 0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
