"""The figures of a run's summary, and the terminal's overview of a large run."""

from __future__ import annotations

from imgflow.contract import ErrorInfo
from imgflow_toolkit.report.images import ImageReport
from imgflow_toolkit.report.summary import format_overview, quality_target, summarise


def test_summary_figures_by_hand():
    reports = [
        ImageReport(
            "a.jpg", "SUCCEEDED", "compressed", 1000, 400, None, None, format="JPEG", megapixels=0.5
        ),
        ImageReport(
            "b.png",
            "SUCCEEDED",
            "kept_original",
            500,
            500,
            None,
            None,
            format="PNG",
            megapixels=30.0,
        ),
        ImageReport(
            "c.gif", "FAILED", "rejected", 10, None, ErrorInfo(type="E", message="m"), None
        ),
    ]
    s = summarise(reports, 85.0)
    assert (s.total.bytes_in, s.total.bytes_out, s.total.images) == (1500, 900, 2)
    assert s.saved_histogram[12] == 1 and s.saved_histogram[0] == 1  # 60% and 0%
    assert list(s.by_size) == ["< 1 MP", "24-50 MP"]
    assert s.outcomes == {"compressed": 1, "kept_original": 1, "rejected": 1}
    assert [(g.type, g.count, g.examples) for g in s.failures] == [("E", 1, ("c.gif",))]


def test_score_histogram_starts_at_the_target_when_every_score_is_above_it():
    reports = [
        ImageReport(f"{i}.jpg", "SUCCEEDED", "compressed", 10, 5, None, None, score=s)
        for i, s in enumerate([86.2, 85.1, 90.0])
    ]
    s = summarise(reports, 85.0)
    start, counts = s.score_histogram()
    assert start == 85.0 and sum(counts) == 3 and counts[0] == 1
    assert (s.lowest_score, s.below_target) == (85.1, 0)


def test_the_overview_of_a_large_run_fits_a_screen(synthetic_reports):
    reports = synthetic_reports(1_000)
    text = format_overview(summarise(reports, 85.0))
    lines = text.splitlines()
    assert len(lines) < 15, text
    assert lines[0] == "1,000 images"
    assert "compressed           980" in text and "rejected              20" in text
    assert "lowest score 85.10" in text and "0 below the target" in text
    assert "InvalidImageError     20  image 7 is truncated" in text


def test_the_target_comes_from_the_run_manifest():
    assert quality_target({"parameters": {}, "resolved_parameters": {"QualityTarget": "80"}}) == 80
    assert quality_target({"parameters": {"QualityTarget": "90"}}) == 90
    assert quality_target({}) is None
