"""report.html of a local run: a summary, a table's data, graphs once, images by reference."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from imgflow.contract import ErrorInfo
from imgflow_toolkit.report.images import ImageReport, write_report_json
from imgflow_toolkit.report.page import write_html_report


class _Page(HTMLParser):
    """The report's data block, its graph templates, chart bars and failure rows."""

    def __init__(self) -> None:
        super().__init__()
        self.data_text = ""
        self.templates: dict[str, int] = {}  # id -> states drawn
        self.bars: dict[str, list[dict]] = {}  # chart css class -> bars' attributes
        self.failure_types: list[str] = []
        self.images = 0
        self._in_data = False
        self._template: str | None = None
        self._chart: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("id") == "report-data":
            self._in_data = True
        elif tag == "template":
            self._template = a["id"]
            self.templates[self._template] = 0
        elif tag == "g" and self._template and "data-state" in a:
            self.templates[self._template] += 1
        elif tag == "svg" and "chart" in (a.get("class") or ""):
            self._chart = a["class"].split()[1]
            self.bars[self._chart] = []
        elif self._chart and tag in ("rect", "g") and ("data-count" in a or "data-in" in a):
            self.bars[self._chart].append(a)
        elif tag == "tr" and "data-type" in a:
            self.failure_types.append(a["data-type"])
        elif tag == "img":
            self.images += 1

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_data = False
        elif tag == "template":
            self._template = None
        elif tag == "svg":
            self._chart = None

    def handle_data(self, data):
        if self._in_data:
            self.data_text += data


def _page(run_dir: Path) -> _Page:
    page = _Page()
    page.feed((run_dir / "report.html").read_text())
    return page


def _rows(run_dir: Path) -> dict[str, dict]:
    data = json.loads(_page(run_dir).data_text)
    return {row["k"]: row for row in data["rows"]}


def test_every_image_of_report_json_is_a_row_with_its_figures(sample_run):
    report = json.loads((sample_run / "report.json").read_text())
    rows = _rows(sample_run)
    assert list(rows) == [r["key"] for r in report]
    for entry in report:
        row = rows[entry["key"]]
        assert (row["o"], row["i"], row["b"]) == (
            entry["outcome"],
            entry["bytes_in"],
            entry["bytes_out"],
        )
    harbour = rows["photos/harbour.jpg"]
    assert harbour["f"] == "JPEG" and harbour["mp"] > 0.1
    assert harbour["q"] >= 85.0 and harbour["m"].startswith("jpeg-")
    assert rows["broken/truncated.jpg"]["e"] == "InvalidImageError"
    assert "corrupt or truncated" in rows["broken/truncated.jpg"]["em"]


def test_images_are_linked_from_the_run_folder_not_embedded(sample_run):
    html = (sample_run / "report.html").read_text()
    assert "data:image/" not in html and _page(sample_run).images == 0
    rows = _rows(sample_run)
    harbour = rows["photos/harbour.jpg"]
    after = (sample_run / unquote(harbour["z"])).resolve()
    assert after == (sample_run / "compressed" / "photos" / "harbour.jpg").resolve()
    assert (sample_run / unquote(harbour["a"])).resolve().read_bytes() != after.read_bytes()
    # A rejected image links its quarantined original; it has no result.
    broken = rows["broken/truncated.jpg"]
    assert broken["z"] is None
    assert (sample_run / unquote(broken["a"])).is_file()


def test_each_distinct_graph_is_written_once_and_every_image_points_at_one(sample_run):
    page = _page(sample_run)
    rows = _rows(sample_run)
    assert all(row["g"] is not None for row in rows.values())
    used = {f"graph-{row['g']}" for row in rows.values()}
    assert used == set(page.templates)
    assert len(page.templates) < len(rows), "images that took the same path share a graph"
    assert all(states >= 9 for states in page.templates.values())


def test_the_summary_charts_count_every_image_once(sample_run):
    report = [r for r in json.loads((sample_run / "report.json").read_text())]
    measured = [r for r in report if r["bytes_out"] is not None and r["bytes_in"]]
    bars = _page(sample_run).bars
    assert sum(int(b["data-count"]) for b in bars["saved-histogram"]) == len(measured)
    for chart in ("by-format", "by-size"):
        assert sum(int(g["data-images"]) for g in bars[chart]) == len(measured)
        assert sum(int(g["data-in"]) for g in bars[chart]) == sum(r["bytes_in"] for r in measured)
    lossy = [r for r in report if r.get("score") is not None]
    assert lossy, "the samples hold a photo the lossy search compresses"
    assert sum(int(b["data-count"]) for b in bars["score-histogram"]) == len(lossy)


def test_failures_are_grouped_by_error_type(sample_run):
    report = json.loads((sample_run / "report.json").read_text())
    failed = {r["error"]["type"] for r in report if r["error"]}
    assert failed and sorted(_page(sample_run).failure_types) == sorted(failed)


def test_the_report_shows_the_runs_aws_cost_from_cost_json(sample_run):
    from imgflow_toolkit.report import cost

    estimate = cost.load(sample_run)
    html = (sample_run / "report.html").read_text()
    section = html[
        html.index('<section id="cost">') : html.index("</section>", html.index('id="cost"'))
    ]
    for per in estimate.per_thousand():
        row = f'data-workflow="{per.workflow}" data-architecture="{per.architecture}"'
        assert row in section
        assert f"<b>{cost.format_money(per.total)}</b>" in section
    assert f"{estimate.transitions:,} state transitions" in section


def test_the_report_is_self_contained(sample_run):
    html = (sample_run / "report.html").read_text()
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html and "file:" not in html
    assert "<script src" not in html and '<link rel="stylesheet"' not in html


def test_a_key_cannot_end_the_data_block(tmp_path):
    key = "x</script><script>alert(1)</script>.jpg"
    report = ImageReport(key, "SUCCEEDED", "kept_original", 10, 10, None, None)
    write_html_report(tmp_path, [report])
    html = (tmp_path / "report.html").read_text()
    assert "<script>alert(1)" not in html
    assert _rows(tmp_path)[key]["k"] == key


def test_ten_thousand_images_make_a_small_report(tmp_path, synthetic_reports):
    """The report grows by its data block only: no per-image markup, images or graphs."""
    reports = synthetic_reports(10_000)
    (tmp_path / "run.json").write_text(json.dumps({"parameters": {"QualityTarget": "85"}}))
    write_html_report(tmp_path, reports)
    size = (tmp_path / "report.html").stat().st_size
    assert size < 400 * len(reports), f"{size / len(reports):.0f} bytes per image"
    rows = _rows(tmp_path)
    assert len(rows) == 10_000
    page = _page(tmp_path)
    lossy = sum(1 for r in reports if r.score is not None)
    assert sum(int(b["data-count"]) for b in page.bars["score-histogram"]) == lossy == 2_500
    assert page.failure_types == ["InvalidImageError"]
    assert "(and 199 other messages)" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize("error_type", ["DecompressionBombError", "InvalidImageError"])
def test_a_report_of_hostile_originals_opens_no_image_in_python(tmp_path, error_type, request):
    """The report links originals; it never decodes them, so a bomb cannot break it."""
    bomb = request.getfixturevalue("decompression_bomb")
    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "bomb.png").write_bytes(bomb.read_bytes())
    error = ErrorInfo(type=error_type, message="declares 900 MP")
    report = ImageReport("bomb.png", "FAILED", "rejected", 45, None, error, None)
    write_html_report(tmp_path, [report])
    row = _rows(tmp_path)["bomb.png"]
    assert row["a"] == "failed/bomb.png" and row["z"] is None
    assert re.search(r"declares 900 MP", (tmp_path / "report.html").read_text())


def test_report_json_is_one_indented_document_though_written_an_entry_at_a_time(
    sample_run, tmp_path
):
    text = (sample_run / "report.json").read_text()
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
    error = ErrorInfo(type="UnsupportedFormat", message="«bmp» is not accepted")
    reports = [
        ImageReport("café/ü.jpg", "SUCCEEDED", "compressed", 10, 7, None, None),
        ImageReport("b.bmp", "FAILED", "rejected", 5, None, error, None),
    ]
    for written in ([], reports):
        write_report_json(tmp_path, written)
        write_html_report(tmp_path, written)
        expected = [r.to_dict() for r in written]
        assert (tmp_path / "report.json").read_text() == json.dumps(
            expected, indent=2, ensure_ascii=False
        ) + "\n"
        assert len(json.loads(_page(tmp_path).data_text)["rows"]) == len(written)
