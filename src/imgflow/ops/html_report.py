"""``DIR/report.html``: what a run did to each image, for a person to look at.

One self-contained file (thumbnails as data URIs, graphs as inline SVG), so
it can be opened from disk, attached to a ticket or served as it is. Per
image: before and after thumbnails, sizes and saving, the outcome, the error
of a failure, and the execution graph with the path taken.
"""

from __future__ import annotations

import base64
import io
import json
import struct
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from imgflow.ops import graph, history
from imgflow.ops.report import ImageReport

THUMBNAIL = 240
_CSS = """
body {
  font:14px/1.45 "DejaVu Sans",Helvetica,Arial,sans-serif;
  margin:24px;
  color:#212121;
  background:#fff;
}
h1 {
  font-size:22px;
  margin:0 0 4px;
}
.meta {
  color:#616161;
  margin:0 0 16px;
}
table.summary {
  border-collapse:collapse;
  margin:0 0 24px;
}
table.summary td,table.summary th {
  padding:3px 12px;
  border-bottom:1px solid #e0e0e0;
  text-align:right;
}
table.summary td:first-child,table.summary th:first-child {
  text-align:left;
}
.image {
  display:flex;
  gap:24px;
  border:1px solid #e0e0e0;
  border-radius:8px;
  padding:16px;
  margin:0 0 18px;
}
.image.failed {
  border-color:#ef9a9a;
  background:#fffafa;
}
.facts {
  flex:1 1 auto;
  min-width:0;
}
.facts h2 {
  font-size:16px;
  margin:0 0 8px;
  word-break:break-all;
}
.pair {
  display:flex;
  gap:16px;
  margin:0 0 10px;
}
figure {
  margin:0;
  text-align:center;
}
figure img,.nopreview {
  width:240px;
  height:180px;
  object-fit:contain;
  background:#f5f5f5 repeating-conic-gradient(#eee 0 25%,#fafafa 0 50%) 0 0/16px 16px;
  border:1px solid #e0e0e0;
  border-radius:4px;
}
.nopreview {
  display:flex;
  align-items:center;
  justify-content:center;
  color:#757575;
  font-size:12px;
  padding:8px;
  box-sizing:border-box;
}
figcaption {
  font-size:12px;
  color:#616161;
}
.badge {
  display:inline-block;
  padding:1px 8px;
  border-radius:10px;
  font-size:12px;
  font-weight:bold;
  color:#fff;
  background:#2e7d32;
}
.badge.rejected,.badge.error {
  background:#c62828;
}
.badge.skipped,.badge.kept_original {
  background:#757575;
}
.error {
  color:#b71c1c;
  background:#ffebee;
  border-radius:4px;
  padding:6px 8px;
  margin:8px 0;
  white-space:pre-wrap;
  word-break:break-word;
}
.execution {
  font-size:12px;
  color:#757575;
  word-break:break-all;
}
.graph {
  flex:0 0 auto;
}
.graph svg {
  width:340px;
  height:auto;
}
"""


def write_html_report(out_dir: Path, reports: list[ImageReport]) -> Path:
    """Write ``out_dir/report.html`` from a run folder; return its path."""
    manifest = _read_json(out_dir / "run.json") or {}
    saved = history.load_all(out_dir)
    counts: dict[str, int] = {}
    for r in reports:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    measured = [r for r in reports if r.bytes_out is not None and r.bytes_in]
    total_in = sum(r.bytes_in or 0 for r in measured)
    total_out = sum(r.bytes_out or 0 for r in measured)
    saved_pct = f"{100.0 * (total_in - total_out) / total_in:.1f}%" if total_in else "-"
    parameters = manifest.get("parameters") or {}
    settings = ", ".join(f"{k}={v}" for k, v in sorted(parameters.items())) or "template defaults"
    rows = "".join(
        f"<tr><td>{escape(outcome)}</td><td>{n}</td></tr>" for outcome, n in sorted(counts.items())
    )
    cards = "".join(_card(out_dir, manifest, r, saved.get(r.execution or "")) for r in reports)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>imgflow report: {len(reports)} images</title>
<style>{_CSS}</style></head>
<body>
<h1>imgflow report</h1>
<p class="meta">{len(reports)} images · {_bytes(total_in)} → {_bytes(total_out)} ({saved_pct} saved)
 · {escape(settings)} · written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>
<table class="summary"><tr><th>outcome</th><th>images</th></tr>{rows}</table>
{cards}
</body></html>
"""
    target = out_dir / "report.html"
    target.write_text(page)
    return target


def _card(
    out_dir: Path,
    manifest: dict[str, Any],
    r: ImageReport,
    execution: history.SavedExecution | None,
) -> str:
    before = _original(out_dir, manifest, r.key)
    after = out_dir / "compressed" / r.key
    saved = "" if r.saved_percent is None else f", {r.saved_percent:.1f}% saved"
    sizes = _bytes(r.bytes_in) + (f" → {_bytes(r.bytes_out)}{saved}" if r.bytes_out else "")
    error = ""
    if r.error is not None:
        error = f'<div class="error"><b>{escape(r.error.type)}</b>: {escape(r.error.message)}</div>'
    reason = f"<div>reason: {escape(r.reason)}</div>" if r.reason else ""
    figures = _figure(before, "before", r.bytes_in)
    if after.is_file():
        figures += _figure(after, "after", r.bytes_out)
    drawing = ""
    if execution is not None:
        trace = graph.trace(
            execution.definition, execution.events, execution.description.get("status")
        )
        drawing = graph.render_svg(execution.definition, trace, title=f"{r.key}: {r.status}")
    name = (r.execution or "").rsplit(":", 1)[-1]
    css = "image failed" if r.status == "FAILED" else "image"
    return f"""<section class="{css}" data-key="{escape(r.key)}">
<div class="facts"><h2>{escape(r.key)}</h2>
<div><span class="badge {escape(r.outcome)}">{escape(r.outcome)}</span> {escape(r.status)}</div>
<div>{sizes}</div>{reason}{error}
<div class="pair">{figures}</div>
<div class="execution">execution {escape(name) or "-"}</div></div>
<div class="graph">{drawing}</div>
</section>
"""


def _figure(path: Path | None, caption: str, size: int | None) -> str:
    uri, problem = _thumbnail(path) if path else (None, "original not available")
    label = f"{caption} · {_bytes(size)}" if size else caption
    if uri is None:
        return (
            f'<figure><div class="nopreview">no preview: {escape(problem or "")}</div>'
            f"<figcaption>{escape(label)}</figcaption></figure>"
        )
    return (
        f'<figure><img class="thumb {caption}" alt="{caption}" src="{uri}">'
        f"<figcaption>{escape(label)}</figcaption></figure>"
    )


def _thumbnail(path: Path) -> tuple[str | None, str | None]:
    """A small PNG or JPEG of an image as a data URI, or why there is none."""
    from PIL import Image, ImageOps
    from PIL.Image import DecompressionBombError

    try:
        with Image.open(path) as image:
            image.seek(0)
            picture = ImageOps.exif_transpose(image) or image
            alpha = picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info
            # Convert first: palette images would be scaled with nearest-neighbour.
            picture = picture.convert("RGBA" if alpha else "RGB")
            picture.thumbnail((THUMBNAIL, THUMBNAIL))
            buffer = io.BytesIO()
            if alpha or image.format != "JPEG":
                picture.save(buffer, "PNG", optimize=True)
                kind = "png"
            else:
                picture.save(buffer, "JPEG", quality=82)
                kind = "jpeg"
    except (
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        struct.error,
        DecompressionBombError,
    ) as exc:
        # Whatever the workflow rejected may be here: a bomb, a broken EXIF block...
        return None, f"{type(exc).__name__}: {exc}"
    return f"data:image/{kind};base64,{base64.b64encode(buffer.getvalue()).decode()}", None


def _original(out_dir: Path, manifest: dict[str, Any], key: str) -> Path | None:
    source = (manifest.get("inputs") or {}).get(key)
    if source and Path(source).is_file():
        return Path(source)
    quarantined = out_dir / "failed" / key
    return quarantined if quarantined.is_file() else None


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def _bytes(value: int | None) -> str:
    if value is None:
        return "-"
    if value < 10_000:
        return f"{value:,} B"
    if value < 10_000_000:
        return f"{value / 1000:,.1f} kB"
    return f"{value / 1e6:,.1f} MB"
