"""``DIR/report.html``: a run as a person reads it, from 5 images to 10,000.

One self-contained file that works offline: the summary's charts are
inline SVG (``charts``), the table's data is one JSON block that a small
script (``assets/report.js``) sorts, filters and pages, and each distinct
execution graph is written once, as a ``<template>`` an image's detail
clones. Images are not embedded: the detail view's comparison loads the
original and the result from the run's folder by relative path, at any
zoom, so the file stays small (a few hundred bytes per image) and shows
the real pixels.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from imgflow_toolkit.executions import history
from imgflow_toolkit.executions.svg import render_svg
from imgflow_toolkit.executions.trace import trace
from imgflow_toolkit.report import charts, cost
from imgflow_toolkit.report.images import ImageReport
from imgflow_toolkit.report.summary import (
    SAVED_BIN,
    SCORE_BIN,
    Summary,
    format_of,
    quality_target,
    summarise,
)

REPORT = "report.html"


def write_html_report(out_dir: Path, reports: list[ImageReport]) -> Path:
    """Write ``out_dir/report.html`` from a run folder; return its path."""
    manifest = _read_json(out_dir / "run.json") or {}
    target = quality_target(manifest)
    summary = summarise(reports, target)
    graphs = _Graphs(out_dir)
    parameters = manifest.get("parameters") or {}
    settings = ", ".join(f"{k}={v}" for k, v in sorted(parameters.items())) or "template defaults"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>imgflow report: {len(reports)} images</title>
<style>{_asset("report.css")}</style></head>
<body>
<h1>imgflow report</h1>
<p class="meta">{len(reports)} images · {escape(settings)} · written \
{datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>
{_summary_html(summary)}
{_cost_html(out_dir)}
<section id="table">
<h2>Images</h2>
<div class="controls">
<input type="search" id="filter-text" placeholder="key contains…" aria-label="filter by key">
<select id="filter-outcome" aria-label="outcome"><option value="">every outcome</option></select>
<select id="filter-format" aria-label="format"><option value="">every format</option></select>
<select id="filter-error" aria-label="error"><option value="">every error</option></select>
<label>rows per page <select id="page-size"><option>50</option><option selected>100</option>\
<option>500</option></select></label>
</div>
<table id="images"><thead><tr></tr></thead><tbody></tbody></table>
<div class="pager"><button type="button" id="prev">◀ previous</button>\
<span id="range"></span><button type="button" id="next">next ▶</button></div>
<p class="meta">Click a row (or press Enter on it) for its detail: original and result \
at 1:1 with a slider or a flip, and the execution graph.</p>
</section>
<section id="detail" hidden></section>
<script type="application/json" id="report-data">"""
    target_path = out_dir / REPORT
    # Written as it is built, a row at a time: built whole, the page was the
    # highest point of a run's memory (docs/backfill.md).
    with target_path.open("w", encoding="utf-8") as out:
        out.write(page)
        out.write(f'{{"target":{_json_for_script(target)},"rows":[')
        for number, report in enumerate(reports):
            out.write("," if number else "")
            out.write(_json_for_script(_row(out_dir, manifest, report, graphs)))
        out.write("]}</script>\n")
        # The graphs the rows point at, each once (report.js runs after them).
        out.write(f"{graphs.templates()}\n")
        out.write(f"<script>{_asset('report.js')}</script>\n</body></html>\n")
    return target_path


# --- the summary --------------------------------------------------------------


def _summary_html(s: Summary) -> str:
    total = s.total
    cards = [
        (f"{s.images:,}", "images"),
        *((f"{n:,}", outcome.replace("_", " ")) for outcome, n in s.outcomes.items()),
        (charts.human_bytes(total.bytes_in), "in"),
        (charts.human_bytes(total.bytes_out), "out"),
        (f"{total.saved_percent:.1f}%", f"saved ({charts.human_bytes(total.saved)})"),
    ]
    card_html = "".join(
        f'<div class="card"><b>{escape(value)}</b><span>{escape(label)}</span></div>'
        for value, label in cards
    )
    saved = charts.histogram(s.saved_histogram, 0, SAVED_BIN, css="saved-histogram", unit="% saved")
    figures = [
        _figure("Bytes saved per image", "images per 5-point bin of the % saved", saved),
        _figure("By format", "bytes in (light) and out (green)", _bars(s.by_format, "by-format")),
        _figure("By size", "megapixels", _bars(s.by_size, "by-size")),
    ]
    if s.scores:
        start, counts = s.score_histogram()
        label = f"target {s.target:g}" if s.target is not None else ""
        scores = charts.histogram(
            counts, start, SCORE_BIN, css="score-histogram", unit=" points",
            marker=s.target, marker_label=label,
        )  # fmt: skip
        note = (
            f"{len(s.scores)} lossy outputs, lowest {s.lowest_score:.2f}, median "
            f"{s.median_score:.2f}, {s.below_target} below the target"
        )
        figures.insert(1, _figure("SSIMULACRA2 of lossy outputs", note, scores))
    return f"""<section id="summary">
<div class="cards">{card_html}</div>
<div class="charts">{"".join(figures)}</div>
{_failures_html(s)}
</section>"""


def _figure(title: str, note: str, svg: str) -> str:
    return (
        f'<figure><figcaption>{escape(title)} <span class="note">{escape(note)}</span>'
        f"</figcaption>{svg}</figure>"
    )


def _bars(groups: dict[str, Any], css: str) -> str:
    return charts.byte_bars(groups, css=css)


def _failures_html(s: Summary) -> str:
    if not s.failures:
        return '<h2>Failures</h2><p class="meta">none</p>'
    rows = "".join(
        f'<tr data-type="{escape(g.type)}"><td>{escape(g.type)}</td><td class="n">{g.count}</td>'
        f'<td class="message">{escape(g.message)}'
        + (f" <i>(and {g.messages - 1} other messages)</i>" if g.messages > 1 else "")
        + f"</td><td>{escape(', '.join(g.examples))}</td></tr>"
        for g in s.failures
    )
    return (
        f"<h2>Failures by error type</h2>"
        f'<table class="failures"><thead><tr><th>error</th><th class="n">images</th>'
        f"<th>most frequent message</th><th>for example</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _cost_html(out_dir: Path) -> str:
    """The run's estimated AWS bill (DIR/cost.json), per 1,000 images and for the run."""
    if not (out_dir / cost.FILE).is_file():
        return ""
    estimate = cost.load(out_dir)
    head = "".join(
        f'<th class="{"n" if i > 1 else ""}">{escape(h)}</th>'
        for i, h in enumerate(
            ["workflow", "architecture", "Lambda", "Lambda requests", "Step Functions", "S3",
             "SNS", "per 1,000 images", f"this run ({estimate.images})"]
        )
    )  # fmt: skip
    rows = "".join(
        f'<tr data-workflow="{per.workflow}" data-architecture="{per.architecture}">'
        f"<td>{per.workflow}</td><td>{per.architecture}</td>"
        + "".join(
            f'<td class="n">{cost.format_money(v)}</td>'
            for v in (
                per.lambda_compute,
                per.lambda_requests,
                per.step_functions,
                per.s3_requests,
                per.sns,
            )
        )
        + f'<td class="n"><b>{cost.format_money(per.total)}</b></td>'
        + f'<td class="n">{cost.format_money(run.total)}</td></tr>'
        for per, run in zip(estimate.per_thousand(), estimate.lines, strict=True)
    )
    a = estimate.assumptions
    basis = "CPU time" if a.duration_basis == "cpu" else "local wall time"
    note = (
        f"From {estimate.invocations:,} Lambda invocations ({estimate.gb_seconds:,.1f} GB-s at "
        f"each function's MemorySize, durations from {basis}), {estimate.executions:,} "
        f"executions, {estimate.transitions:,} state transitions, {estimate.s3.tier1:,} S3 "
        f"PUT/COPY and {estimate.s3.tier2:,} GET/HEAD requests; {estimate.region} prices of "
        f"{estimate.prices_as_of}, free tiers not deducted. The model and its assumptions: "
        "docs/cost.md."
    )
    return (
        f'<section id="cost"><h2>What this run would cost on AWS</h2>'
        f'<table class="cost"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        f'<p class="meta">{escape(note)}</p></section>'
    )


# --- the table's rows -----------------------------------------------------------


def _row(
    out_dir: Path, manifest: dict[str, Any], r: ImageReport, graphs: _Graphs
) -> dict[str, Any]:
    """One image for report.js (short names: the block is ~200 bytes per image)."""
    after = out_dir / "compressed" / r.key
    name = (r.execution or "").rsplit(":", 1)[-1] or None
    saved = r.saved_percent
    return {
        "k": r.key,
        "s": r.status,
        "o": r.outcome,
        "f": format_of(r),
        "mp": r.megapixels,
        "i": r.bytes_in,
        "b": r.bytes_out,
        "p": None if saved is None else round(saved, 1),
        "q": r.score,
        "m": r.method,
        "e": r.error.type if r.error else None,
        "em": r.error.message if r.error else None,
        "r": r.reason,
        "x": name,
        "g": graphs.index_of(name),
        "a": _href(out_dir, _original(out_dir, manifest, r.key)),
        "z": _href(out_dir, after) if r.bytes_out is not None and after.is_file() else None,
    }


class _Graphs:
    """Each distinct execution graph once: most images of a run take the same path."""

    def __init__(self, out_dir: Path) -> None:
        folder = out_dir / history.FOLDER
        self._files = {p.stem: p for p in folder.glob("*.json")} if folder.is_dir() else {}
        self._index: dict[str, int] = {}  # svg digest -> index
        self._svgs: list[str] = []

    def index_of(self, name: str | None) -> int | None:
        path = self._files.get(name or "")
        if path is None:
            return None
        saved = history.SavedExecution.from_json(path.read_text())
        status = saved.description.get("status")
        run = trace(saved.definition, saved.events, status)
        svg = render_svg(saved.definition, run, title=f"execution: {status}")
        digest = hashlib.sha256(svg.encode()).hexdigest()
        if digest not in self._index:
            self._index[digest] = len(self._svgs)
            self._svgs.append(svg)
        return self._index[digest]

    def templates(self) -> str:
        return "\n".join(
            f'<template id="graph-{i}">{svg}</template>' for i, svg in enumerate(self._svgs)
        )


def _original(out_dir: Path, manifest: dict[str, Any], key: str) -> Path | None:
    source = (manifest.get("inputs") or {}).get(key)
    if source and Path(source).is_file():
        return Path(source)
    quarantined = out_dir / "failed" / key
    return quarantined if quarantined.is_file() else None


def _href(out_dir: Path, path: Path | None) -> str | None:
    """A link relative to the report, so the run folder can be moved as a whole."""
    if path is None:
        return None
    return quote(Path(os.path.relpath(path.resolve(), out_dir.resolve())).as_posix())


def _json_for_script(data: Any) -> str:
    """JSON that cannot end (or open) a <script> element: every ``<`` is escaped."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def _asset(name: str) -> str:
    return resources.files("imgflow_toolkit.report").joinpath("assets", name).read_text()


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None
