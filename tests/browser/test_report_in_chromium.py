"""report.html in a real browser: headless Chromium renders its images and graphs.

Debian's chromium is what ``make browser-deps`` installs (tools/browser.mk);
without it (a laptop without root) the test skips and says how to get it.
The screenshot is kept under build/browser/ as the test's artefact.
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

from imgflow.cli import main

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
    "--virtual-time-budget=10000",
]
# Run in the page after load: what rendered, written into the DOM for --dump-dom.
CHECK = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => ({
    alt: i.alt, loaded: i.complete && i.naturalWidth > 0, width: i.naturalWidth}));
  const graphs = [...document.querySelectorAll("svg.execution-graph")].map(s => {
    const box = s.getBoundingClientRect();
    return {width: box.width, height: box.height,
            states: s.querySelectorAll("g.state").length,
            failed: s.querySelectorAll("g.state-failed, g.state-caught").length};
  });
  const out = document.createElement("pre");
  out.id = "render-check";
  out.textContent = JSON.stringify({images, graphs});
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
        timeout=90,
        check=True,
    )
    return done.stdout


def test_images_and_graphs_render_in_chromium(chromium, report, tmp_path):
    checked = report.with_name("report-check.html")
    checked.write_text(report.read_text().replace("</body>", CHECK + "</body>"))
    dom = _chromium(chromium, tmp_path / "profile", "--dump-dom", checked.as_uri())
    match = re.search(r'<pre id="render-check">(.*?)</pre>', dom, re.S)
    assert match, "the check script did not run: " + dom[-500:]
    rendered = json.loads(html.unescape(match[1]))
    entries = json.loads(report.with_name("report.json").read_text())
    compressed = [e for e in entries if e["outcome"] == "compressed"]
    failed = [e for e in entries if e["status"] == "FAILED"]
    assert compressed and failed, "the samples show both kinds"
    images = rendered["images"]
    # Before and after for each compressed image; the truncated original has no preview.
    assert len(images) >= 2 * len(compressed)
    assert all(i["loaded"] and i["width"] > 0 for i in images), images
    graphs = rendered["graphs"]
    assert len(graphs) == len(entries)
    assert all(g["width"] > 100 and g["height"] > 100 and g["states"] >= 9 for g in graphs)
    # A failed execution marks the state that raised and the Fail state.
    assert sum(1 for g in graphs if g["failed"] >= 2) == len(failed)


def test_screenshot_of_the_report_shows_thumbnails_and_a_red_failed_state(
    chromium, report, tmp_path, capsys
):
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / "report.png"
    shot.unlink(missing_ok=True)
    _chromium(
        chromium,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1100,1500",
        report.as_uri(),
    )
    with capsys.disabled():
        print(f"\nscreenshot of report.html: {shot}")
    with Image.open(shot) as image:
        picture = image.convert("RGB")
    assert picture.size == (1100, 1500)
    colours = picture.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 1000, "a blank or flat page"
    # The failed state's red (#c62828) and the path's green (#2e7d32) are on screen.
    red = sum(n for n, (r, g, b) in colours if r > 180 and g < 70 and b < 70)
    green = sum(n for n, (r, g, b) in colours if r < 70 and 100 < g < 150 and b < 70)
    assert red > 200 and green > 200, (red, green)
