"""report.html of a local run: every image with thumbnails, facts and its execution graph."""

from __future__ import annotations

import json
from html.parser import HTMLParser


class _Sections(HTMLParser):
    """Per ``<section data-key>``: its img sources, state classes and text."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict] = {}
        self.current: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "section":
            self.current = {"imgs": [], "states": {}, "text": "", "svgs": 0}
            self.sections[attributes["data-key"]] = self.current
        elif self.current is not None:
            if tag == "img":
                self.current["imgs"].append(attributes)
            elif tag == "svg":
                self.current["svgs"] += 1
            elif tag == "g" and "data-state" in attributes:
                self.current["states"][attributes["data-state"]] = attributes["class"]

    def handle_endtag(self, tag):
        if tag == "section":
            self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.current["text"] += data


def _sections(run_dir) -> dict[str, dict]:
    parser = _Sections()
    parser.feed((run_dir / "report.html").read_text())
    return parser.sections


def test_report_has_a_section_with_a_graph_for_every_image_in_report_json(sample_run):
    report = json.loads((sample_run / "report.json").read_text())
    sections = _sections(sample_run)
    assert list(sections) == [r["key"] for r in report]
    for key, section in sections.items():
        assert section["svgs"] == 1, key
        assert "Validate image" in section["states"], key


def test_compressed_images_show_before_and_after_thumbnails_and_the_saving(sample_run):
    harbour = _sections(sample_run)["photos/harbour.jpg"]
    assert [i["alt"] for i in harbour["imgs"]] == ["before", "after"]
    assert all(i["src"].startswith("data:image/jpeg;base64,") for i in harbour["imgs"])
    assert "% saved" in harbour["text"] and "compressed" in harbour["text"]
    icon = _sections(sample_run)["photos/icon.png"]
    assert all(i["src"].startswith("data:image/png;base64,") for i in icon["imgs"])


def test_a_rejected_image_shows_its_error_and_its_failed_states(sample_run):
    broken = _sections(sample_run)["broken/truncated.jpg"]
    assert "InvalidImageError" in broken["text"]
    assert "corrupt or truncated" in broken["text"], "the actionable message, not only the type"
    assert "no preview" in broken["text"], "a truncated original cannot be thumbnailed"
    assert broken["states"]["Validate image"] == "state state-caught"
    assert broken["states"]["Failed"] == "state state-failed"


def test_the_report_is_self_contained(sample_run):
    html = (sample_run / "report.html").read_text()
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html and 'src="file:' not in html


def test_a_decompression_bomb_gets_a_message_instead_of_a_thumbnail(decompression_bomb):
    from imgflow.ops.html_report import _thumbnail

    uri, problem = _thumbnail(decompression_bomb)
    assert uri is None
    assert problem.startswith("DecompressionBombError")
