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
import resource
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
from imgflow.settings import CompressionMode, MetadataPolicy
from imgflow_toolkit.local.template import default_limits

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
    peak_mb_per_mp: float  # the method's peak RSS above the process's, per megapixel
    exact_score: float | None = None


# A deployment's limits, with the template's defaults (validation accepts up to 100 MP).
LIMITS = default_limits(Path(__file__).resolve().parents[1] / "template.yaml")


def _ours(data: bytes, target: float) -> bytes:
    result = compress(
        data,
        inspect(data, LIMITS),
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


def measure(job: tuple[str, str, float, bool]) -> Row:
    """One method on one file, in a fresh worker process (so its peak memory is its own)."""
    path, method, target, exact = job
    data = Path(path).read_bytes()
    base = _peak_rss_mb()
    started = _cpu_seconds()
    output = METHODS[method](data, target)
    seconds = _cpu_seconds() - started
    peak = _peak_rss_mb() - base
    if len(output) >= len(data):
        output = data  # never larger: the product keeps the original
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        megapixels = image.width * image.height / 1e6
        reference = quality.Reference(
            quality.planes(image, orient=False), exact_from=lossy.EXACT_FROM
        )
        original = image.copy()
    with Image.open(io.BytesIO(output)) as decoded:
        score = reference.score(quality.planes(decoded, orient=False))
        row = Row(
            method, Path(path).name, megapixels, len(data), len(output), score, seconds,
            peak / megapixels,
        )  # fmt: skip
        if exact and method == OURS:
            row.exact_score = quality.score_images(original, decoded)
    return row


def _cpu_seconds() -> float:
    """CPU time of this process and of the children it has waited for: the product
    runs mozjpeg's lossless transcode in a child process."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(rows: list[Row]) -> str:
    by_method: dict[str, list[Row]] = {}
    for row in rows:
        by_method.setdefault(row.method, []).append(row)
    saved = {m: sum(r.bytes_in - r.bytes_out for r in rs) for m, rs in by_method.items()}
    naive_out = {r.file: r.bytes_out for r in by_method.get(NAIVE, [])}
    lines = [
        "| method | files | bytes in | bytes out | saved | saved / ours | ours / this "
        "| min score | median score | median s/MP | peak MB/MP | smaller than naive |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for method, rs in by_method.items():
        total_in = sum(r.bytes_in for r in rs)
        total_out = sum(r.bytes_out for r in rs)
        ours_vs = saved[OURS] / saved[method] if saved[method] > 0 else float("inf")
        smaller = sum(r.bytes_out < naive_out.get(r.file, 0) for r in rs)
        lines.append(
            f"| {method} | {len(rs)} | {total_in:,} | {total_out:,} "
            f"| {saved[method]:,} ({100 * saved[method] / total_in:.1f}%) "
            f"| {saved[method] / saved[OURS]:.3f} | {ours_vs:.3f} "
            f"| {min(r.score for r in rs):.2f} | {statistics.median(r.score for r in rs):.2f} "
            f"| {statistics.median(r.seconds / r.megapixels for r in rs):.2f} "
            f"| {statistics.median(r.peak_mb_per_mp for r in rs):.1f} "
            f"(max {max(r.peak_mb_per_mp for r in rs):.1f}) | {smaller} |"
        )
    return "\n".join(lines)


def targets(rows: list[Row], target: float) -> str:
    """The issue's targets, each as measured in this run."""
    ours = {r.file: r for r in rows if r.method == OURS}
    naive = {r.file: r for r in rows if r.method == NAIVE}
    lines = []
    for label, cap in (("all files", None), ("files <= 16 MP", 16.0)):
        files = [f for f in ours if cap is None or ours[f].megapixels <= cap]
        if not files:
            continue
        saved_ours = sum(ours[f].bytes_in - ours[f].bytes_out for f in files)
        saved_naive = sum(naive[f].bytes_in - naive[f].bytes_out for f in files)
        ratio = saved_ours / saved_naive if saved_naive > 0 else float("inf")
        lines.append(f"saved by imgflow / saved by naive, {label} ({len(files)}): {ratio:.3f}")
    costs = [
        (ours[f].seconds / ours[f].megapixels) / (naive[f].seconds / naive[f].megapixels)
        for f in ours
    ]
    lines.append(
        f"imgflow CPU s/MP / naive CPU s/MP, median over files: {statistics.median(costs):.2f}"
    )
    below = sum(r.score < target for r in ours.values())
    larger = sum(r.bytes_out > r.bytes_in for r in ours.values())
    lines.append(f"imgflow: {below} output(s) below the target, {larger} larger than the input")
    peak = max(ours.values(), key=lambda r: r.peak_mb_per_mp)
    median_peak = statistics.median(r.peak_mb_per_mp for r in ours.values())
    lines.append(
        f"imgflow peak memory: median {median_peak:.1f} MB/MP, max {peak.peak_mb_per_mp:.1f}"
        f" MB/MP ({peak.file}, {peak.megapixels:.1f} MP)"
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
    # Largest first, so the workers finish together; one process per job.
    files.sort(key=lambda p: -p.stat().st_size)
    jobs = [(str(p), method, args.target, args.exact) for p in files for method in METHODS]
    with ProcessPoolExecutor(max_workers=args.jobs, max_tasks_per_child=1) as pool:
        rows = list(pool.map(measure, jobs))
    elapsed = time.perf_counter() - started

    print(f"imgflow JPEG benchmark, target SSIMULACRA2 >= {args.target:g}")
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {_cpu()}, "
        f"Python {platform.python_version()}, {args.jobs} worker(s), {elapsed:.0f} s wall"
    )
    megapixels = sorted({r.file: r.megapixels for r in rows}.values())
    print(
        f"inputs: {len(files)} JPEG files ({megapixels[0]:.1f}-{megapixels[-1]:.1f} MP) from "
        + ", ".join(map(str, args.dirs))
        + (f"; skipped {len(skipped)} non-JPEG" if skipped else "")
    )
    print()
    print(table(rows))
    print()
    print(targets(rows, args.target))
    ours = [r for r in rows if r.method == OURS]
    if args.exact:
        exact = [r.exact_score for r in ours if r.exact_score is not None]
        print(
            f"imgflow outputs rescored with the full reference arithmetic: "
            f"min {min(exact):.2f}, median {statistics.median(exact):.2f}"
        )
    if args.per_file:
        print()
        for r in sorted(rows, key=lambda r: (r.file, r.method)):
            print(
                f"{r.file:32} {r.method:24} {r.bytes_in:>10,} {r.bytes_out:>10,} "
                f"{r.score:7.2f} {r.seconds / r.megapixels:6.2f} s/MP {r.peak_mb_per_mp:6.1f} MB/MP"
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
