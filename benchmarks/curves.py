"""Where the lossy search stands against every file its candidate families can make.

    python benchmarks/curves.py [DIR ...] [--target 85] [--jobs 2] [--save FILE]

For each JPEG it encodes and scores every setting of every family the
search draws from (jpegli distances 0.3-6 on a log grid, each subsampling
and adaptive-quantisation variant; requantisation factors 1.00-1.80, tried
whatever the source quality), with the search's own metric, and prints,
per file and in total, the bytes saved by:

- search: ``lossy.search`` as the product runs it (target + its margin);
- naive:  pyjpegli's integer quality bisected in 1..100 for the target, as in
          the benchmark (a grey source encoded in colour, as the benchmark does);
- best:   the smallest file among all the settings above that scores at
          least target + margin: the most any search over these families
          could reach.

``best / naive`` is the ceiling of a search's lead over the naive
bisection: a new kind of candidate, not a better search, must raise it.
It is slow on purpose (about 200 scored encodes per file); ``--save``
writes every measured point as JSON for offline study of search policies.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core, before numpy loads

import argparse
import io
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyjpegli
from PIL import Image, JpegImagePlugin

from imgflow.imaging import jpeg, lossy, quality

JPEGLI_QUALITIES = range(60, 100)  # the naive search's encoder: pyjpegli, integer quality
JPEGLI_DISTANCES = [round(float(d), 3) for d in np.geomspace(0.3, 6.0, 36)]
REQUANT_FACTORS = [round(1.0 + 0.05 * i, 2) for i in range(17)]
NAIVE = "naive-jpegli"  # not a product family: excluded from the ceiling


def measure(job: tuple[str, float]) -> dict:
    """Every setting of every family on one file (runs in a worker process)."""
    path, target = job
    data = Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as source:
        source.load()
        image = source if source.mode in ("RGB", "L") else source.convert("RGB")
        tables = [list(t) for t in source.quantization.values()]
        sampling = JpegImagePlugin.get_sampling(source)
    linear = quality.linear_rgb(image, orient=False)
    reference = quality.Reference(linear, exact_from=lossy.EXACT_FROM)
    baseline = len(jpeg.optimize_lossless(data))
    points: dict[str, dict[str, list[float]]] = {}
    rgb = image.convert("RGB")
    families = [(f.name, f.encode, JPEGLI_DISTANCES) for f in lossy.jpegli_families(image)]
    families.append(
        ("requant", lossy.requant_family(image, tables, sampling).encode, REQUANT_FACTORS)
    )
    naive_encode = lambda q: pyjpegli.encode(rgb.tobytes(), rgb.width, rgb.height, int(q))  # noqa: E731
    families.append((NAIVE, naive_encode, JPEGLI_QUALITIES))
    for family, encode, settings in families:
        for setting in settings:
            raw = encode(setting)
            with Image.open(io.BytesIO(raw)) as decoded:
                score = reference.score(quality.linear_rgb(decoded, orient=False))
            optimised = min(len(lossy.mozjpeg.optimize(raw)), len(raw))
            points.setdefault(family, {})[f"{setting:g}"] = [optimised, score]
    found = lossy.search(data, target, baseline_size=baseline)
    return {
        "file": Path(path).name,
        "bytes": len(data),
        "baseline": baseline,
        "source_quality": jpeg.estimate_quality(tables[0]),
        "search": len(found.data) if found.data else baseline,
        "search_method": found.method or "jpeg-lossless",
        # The search's cost: scores, exact confirmations, full encodes + size probes.
        "cost": f"{found.evaluations}/{found.confirmations}/{found.encodes}+{found.probes}",
        "points": points,
    }


def naive(record: dict, target: float) -> int:
    """The benchmark's naive bisection over the measured jpegli points (kept original if none)."""
    jpegli = record["points"].get(NAIVE) or record["points"]["jpegli"]
    low, high, best = 1, 100, None
    while low <= high:
        middle = (low + high) // 2
        point = jpegli.get(str(middle))
        # Below the measured range a quality fails; 100 always passes.
        score = point[1] if point else (100.0 if middle >= 100 else 0.0)
        if score >= target:
            best, high = middle, middle - 1
        else:
            low = middle + 1
    point = jpegli.get(str(best)) if best else None
    return min(point[0], record["bytes"]) if point else record["bytes"]


def best(record: dict, target: float) -> int:
    sizes = [record["baseline"], record["bytes"]]
    for family, points in record["points"].items():
        if family != NAIVE:  # the naive search's encoder is not one of the product's
            sizes += [size for size, score in points.values() if score >= target]
    return min(sizes)


def report(records: list[dict], target: float) -> str:
    margin = target + lossy.DEFAULT_MARGIN
    lines = [
        f"{'file':36} {'q':>3} {'search':>8} {'naive':>8} {'best':>8}  "
        f"{'scores/confirms/encodes+probes':>30}  method",
    ]
    totals = {"bytes": 0, "search": 0, "naive": 0, "best": 0}
    for r in sorted(records, key=lambda r: r["file"]):
        sizes = {"search": r["search"], "naive": naive(r, target), "best": best(r, margin)}
        totals["bytes"] += r["bytes"]
        for name, size in sizes.items():
            totals[name] += r["bytes"] - size
        ratios = "  ".join(f"{sizes[n] / r['bytes']:7.3f}" for n in ("search", "naive", "best"))
        lines.append(
            f"{r['file'][:36]:36} {r['source_quality']:3} {ratios}  {r['cost']:>30}"
            f"  {r['search_method']}"
        )
    saved = {n: totals[n] / totals["bytes"] for n in ("search", "naive", "best")}
    lines.append(
        "saved: "
        + ", ".join(f"{n} {saved[n]:.1%}" for n in saved)
        + f"; search / naive {totals['search'] / max(totals['naive'], 1):.3f}"
        + f", best / naive {totals['best'] / max(totals['naive'], 1):.3f}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", type=Path)
    parser.add_argument("--target", type=float, default=85.0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--save", type=Path, help="write every measured point as JSON")
    args = parser.parse_args(argv)
    dirs = args.dirs or [Path(__file__).resolve().parents[2] / "shared" / "corpus" / "photos"]
    files = sorted(
        str(p) for d in dirs for p in d.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")
    )
    if not files:
        print(f"no JPEG files under {', '.join(map(str, dirs))}", file=sys.stderr)
        return 2
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        records = list(pool.map(measure, [(f, args.target) for f in files]))
    if args.save:
        args.save.write_text(json.dumps(records))
    print(report(records, args.target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
