"""report.html in a real browser: headless Chromium runs its script, draws its charts,
opens an image's detail with both images loaded, and stays correct at 10,000 images.

Debian's chromium is what ``make browser-deps`` installs (tools/browser.mk);
without it (a laptop without root) the tests skip and say how to get it.
Screenshots are kept under build/browser/ as the tests' artefacts. Timings
measured in the page are printed, never asserted.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from imgflow_toolkit.cli import main
from imgflow_toolkit.report.page import write_html_report

CHROMIUM = Path(os.environ.get("IMGFLOW_CHROMIUM", "/usr/bin/chromium"))
ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "browser"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--allow-file-access-from-files",
    "--virtual-time-budget=20000",
]

# Run in the page after load: open every image's detail in turn, wait for its
# images, and write what rendered into the DOM for --dump-dom.
DETAILS = """<script>
window.addEventListener("load", async () => {
  const report = window.imgflowReport;
  const loaded = (img) => img.complete ? Promise.resolve()
    : new Promise((done) => { img.onload = img.onerror = done; });
  const charts = [...document.querySelectorAll("svg.chart")].map(s => s.classList[1]);
  const tableRows = document.querySelectorAll("#images tbody tr").length;
  const details = [];
  for (let i = 0; i < report.rows.length; i++) {
    report.openDetail(i);
    const detail = document.getElementById("detail");
    const images = [...detail.querySelectorAll("img")];
    await Promise.all(images.map(loaded));
    const svg = detail.querySelector("svg.execution-graph");
    const top = detail.querySelector("img.top");
    details.push({
      key: report.rows[i].k,
      images: images.map(img => ({alt: img.alt, width: img.naturalWidth})),
      states: svg ? svg.querySelectorAll("g.state").length : 0,
      failed: svg ? svg.querySelectorAll("g.state-failed, g.state-caught").length : 0,
      buttons: [...detail.querySelectorAll(".toolbar button")].map(b => b.textContent),
      clip: top ? top.style.clipPath : null,
      score: (detail.querySelector(".score") || {}).textContent || null,
    });
  }
  const out = document.createElement("pre");
  out.id = "render-check";
  out.textContent = JSON.stringify({charts, tableRows, details});
  document.body.appendChild(out);
});
</script>"""

# The table at scale: sort, filter, page and open a detail, with timings.
SCALE = """<script>
window.addEventListener("load", () => {
  const report = window.imgflowReport;
  const t = {};
  const time = (name, action) => {
    const start = performance.now(); action(); t[name] = performance.now() - start;
  };
  t.load = performance.now();
  const firstPage = document.querySelectorAll("#images tbody tr").length;
  time("sort", () => { report.sortBy("p"); report.sortBy("p"); });  // saved, ascending
  const lowest = report.rows[report.shown()[0]].p;
  time("sort_desc", () => report.sortBy("p"));
  const highest = report.rows[report.shown()[0]].p;
  const select = document.getElementById("filter-outcome");
  time("filter", () => {
    select.value = "rejected"; select.dispatchEvent(new Event("change"));
  });
  const rejected = report.shown().length;
  const rejectedRows = document.querySelectorAll("#images tbody tr").length;
  time("search", () => {
    select.value = ""; select.dispatchEvent(new Event("change"));
    const box = document.getElementById("filter-text");
    box.value = "d3/"; box.dispatchEvent(new Event("input"));
  });
  const matched = report.shown().length;
  time("next_page", () => document.getElementById("next").click());
  const range = document.getElementById("range").textContent;
  time("detail", () => report.openDetail(report.shown()[0]));
  const out = document.createElement("pre");
  out.id = "render-check";
  out.textContent = JSON.stringify(
    {firstPage, lowest, highest, rejected, rejectedRows, matched, range, t});
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def chromium() -> Path:
    found = CHROMIUM if CHROMIUM.is_file() else shutil.which(CHROMIUM.name)
    if not found:
        pytest.skip(
            f"chromium not found at {CHROMIUM}: `make browser-deps` installs it where we are "
            "root (or run `sudo apt-get install chromium`)"
        )
    return Path(found)


@pytest.fixture(scope="module")
def report(repo, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser-run")
    template = str(repo / "template.yaml")
    assert main(["run", str(repo / "samples"), "--out", str(out), "--template", template]) == 0
    return out / "report.html"


def _chromium(binary: Path, profile: Path, *args: str) -> str:
    done = subprocess.run(
        [str(binary), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def _checked(binary: Path, page: Path, script: str, profile: Path) -> dict:
    """Load ``page`` with ``script`` added; return what the script wrote."""
    checked = page.with_name(page.stem + "-check.html")
    checked.write_text(page.read_text().replace("</body>", script + "</body>"))
    dom = _chromium(binary, profile, "--dump-dom", checked.as_uri())
    match = re.search(r'<pre id="render-check">(.*?)</pre>', dom, re.S)
    assert match, "the check script did not run: " + dom[-500:]
    return json.loads(html.unescape(match[1]))


def test_every_image_opens_with_its_graph_and_both_images_loaded(chromium, report, tmp_path):
    rendered = _checked(chromium, report, DETAILS, tmp_path / "profile")
    entries = {e["key"]: e for e in json.loads(report.with_name("report.json").read_text())}
    assert rendered["tableRows"] == len(entries)
    assert {"saved-histogram", "score-histogram", "by-format", "by-size"} <= set(rendered["charts"])
    compressed = failed = 0
    for detail in rendered["details"]:
        entry = entries[detail["key"]]
        assert detail["states"] >= 9, detail
        if entry["status"] == "FAILED":
            failed += 1
            assert detail["failed"] >= 2, "the state that raised and the Fail state are red"
        if entry["outcome"] == "compressed":
            compressed += 1
            # The result under the original, the original clipped by the slider at 50%.
            assert [i["alt"] for i in detail["images"]] == ["compressed", "original"]
            assert all(i["width"] > 0 for i in detail["images"]), detail
            assert detail["clip"] == "inset(0px 50% 0px 0px)"
            assert {"slider", "flip", "fit", "1:1", "2:1"} <= set(detail["buttons"])
        if entry.get("score") is not None:
            assert detail["score"].startswith(f"SSIMULACRA2 {entry['score']:.2f}")
    assert compressed and failed, "the samples show both kinds"


def test_screenshots_of_the_summary_and_of_a_comparison(chromium, report, tmp_path, capsys):
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    summary, detail = ARTEFACTS / "report.png", ARTEFACTS / "report-detail.png"
    for shot, url in (
        (summary, report.as_uri()),
        (detail, report.as_uri() + "#image=photos%2Fharbour.jpg"),
    ):
        shot.unlink(missing_ok=True)
        _chromium(
            chromium, tmp_path / shot.stem, f"--screenshot={shot}", "--window-size=1100,1400", url
        )
    with capsys.disabled():
        print(f"\nscreenshots of report.html: {summary}, {detail}")
    with Image.open(summary) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 200, "a blank or flat page"
    # The charts' blue bars (#1565c0) and green bytes-out bars (#2e7d32) are on screen.
    blue = sum(n for n, (r, g, b) in colours if r < 60 and 80 < g < 120 and b > 170)
    green = sum(n for n, (r, g, b) in colours if r < 70 and 100 < g < 150 and b < 70)
    assert blue > 500 and green > 500, (blue, green)
    with Image.open(detail) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 5000, "the photo is drawn in the comparison"


def test_ten_thousand_images_sort_filter_and_page_in_chromium(
    chromium, tmp_path, capsys, synthetic_reports
):
    reports = synthetic_reports(10_000)
    page = write_html_report(tmp_path, reports)
    seen = _checked(chromium, page, SCALE, tmp_path / "profile")
    with capsys.disabled():
        timings = ", ".join(f"{k} {v:.0f} ms" for k, v in seen["t"].items())
        print(f"\n10,000-image report ({page.stat().st_size / 1e6:.1f} MB): {timings}")
    saved = [r.saved_percent for r in reports if r.saved_percent is not None]
    assert seen["firstPage"] == 100
    assert (seen["lowest"], seen["highest"]) == (round(min(saved), 1), round(max(saved), 1))
    rejected = sum(1 for r in reports if r.outcome == "rejected")
    assert seen["rejected"] == rejected == 200 and seen["rejectedRows"] == 100
    assert seen["matched"] == sum(1 for r in reports if r.key.startswith("d3/"))
    assert seen["range"].startswith(f"rows 101-200 of {seen['matched']}")
