"""benchmarks/curves.py: the naive bisection and the ceiling over measured points."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SPEC = importlib.util.spec_from_file_location(
    "curves", Path(__file__).resolve().parents[3] / "benchmarks" / "curves.py"
)
curves = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(curves)


def record() -> dict:
    # jpegli: score rises 0.5 per quality, size 1,000 bytes per quality (monotone).
    jpegli = {str(q): [1_000 * q, 70.0 + 0.5 * (q - 60)] for q in range(60, 100)}
    requant = {"1.2": [85_000, 85.3], "1.3": [80_000, 84.0]}
    return {
        "file": "a.jpg",
        "bytes": 120_000,
        "baseline": 110_000,
        "source_quality": 80,
        "search": 85_000,
        "search_method": "jpeg-requant-1.2",
        "cost": "4/1/6+9",
        "points": {"jpegli": jpegli, "requant": requant},
    }


def test_naive_bisection_finds_the_smallest_passing_quality() -> None:
    assert curves.naive(record(), 85.0) == 90_000  # quality 90 scores 85.0


def test_best_is_the_smallest_passing_point_of_any_family() -> None:
    assert curves.best(record(), 85.1) == 85_000  # requant 1.2; jpegli needs quality 91


def test_report_states_the_ceiling_against_the_naive_search() -> None:
    text = curves.report([record()], 85.0)
    assert "search / naive 1.167, best / naive 1.167" in text
    assert "4/1/6+9" in text  # what the search spent: scores/confirms/encodes+probes
