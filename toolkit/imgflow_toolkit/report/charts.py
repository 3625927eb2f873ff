"""Inline SVG charts for report.html: a histogram and paired byte bars, no library.

Each chart is one ``<svg class="chart ...">`` whose bars carry their figures
in ``data-*`` attributes and a ``<title>`` tooltip, so a test (or a reader
hovering) can check what a bar stands for.
"""

from __future__ import annotations

from html import escape

from imgflow_toolkit.report.summary import Bytes

WIDTH = 440
BAR_AREA = 150  # height of a histogram's bars
_AXIS = "#9e9e9e"
_TEXT = "#424242"
_IN = "#cfd8dc"  # bytes in
_OUT = "#2e7d32"  # bytes out (what is left)
_BAR = "#1565c0"
_MARK = "#c62828"


def histogram(
    counts: list[int],
    start: float,
    step: float,
    *,
    css: str,
    unit: str,
    marker: float | None = None,
    marker_label: str = "",
) -> str:
    """Bars of ``counts`` over bins [start + i*step, start + (i+1)*step), with an
    optional vertical ``marker`` (the score target)."""
    if not counts:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" width="{WIDTH}" '
            f'height="40"><text x="0" y="20" fill="{_TEXT}" font-size="12">nothing to show'
            "</text></svg>"
        )
    left, bottom, top = 34, 24, 14
    height = top + BAR_AREA + bottom
    width_each = (WIDTH - left - 8) / len(counts)
    peak = max(counts) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" font-size="11" '
        f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif">',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" fill="{_TEXT}">{peak}</text>',
        f'<text x="{left - 4}" y="{top + BAR_AREA}" text-anchor="end" fill="{_TEXT}">0</text>',
        f'<line x1="{left}" y1="{top + BAR_AREA + 0.5}" x2="{WIDTH - 8}" '
        f'y2="{top + BAR_AREA + 0.5}" stroke="{_AXIS}"/>',
    ]
    label_every = max(1, round(len(counts) / 10))
    for i, n in enumerate(counts):
        low, high = start + i * step, start + (i + 1) * step
        x = left + i * width_each
        h = BAR_AREA * n / peak
        parts.append(
            f'<rect class="bar" data-low="{low:g}" data-high="{high:g}" data-count="{n}" '
            f'x="{x + 1:.1f}" y="{top + BAR_AREA - h:.1f}" width="{max(width_each - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="{_BAR}"><title>{low:g}-{high:g}{escape(unit)}: {n} '
            f"image{'s' if n != 1 else ''}</title></rect>"
        )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{top + BAR_AREA + 15}" fill="{_TEXT}">{low:g}</text>'
            )
    if marker is not None:
        x = left + (marker - start) / step * width_each
        parts.append(
            f'<line class="marker" data-value="{marker:g}" x1="{x:.1f}" y1="{top - 6}" '
            f'x2="{x:.1f}" y2="{top + BAR_AREA}" stroke="{_MARK}" stroke-width="2" '
            f'stroke-dasharray="4,3"/><text x="{x + 4:.1f}" y="{top + 2}" fill="{_MARK}">'
            f"{escape(marker_label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def byte_bars(groups: dict[str, Bytes], *, css: str) -> str:
    """One row per group: bytes in (light) with bytes out (green) over it, and the figures."""
    row, label_w = 34, 92
    height = max(row * len(groups), row) + 6
    largest = max((g.bytes_in for g in groups.values()), default=0) or 1
    bar_w = WIDTH - label_w - 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" font-size="11" '
        f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif">'
    ]
    for i, (name, g) in enumerate(groups.items()):
        y = 4 + i * row
        w_in = bar_w * g.bytes_in / largest
        w_out = bar_w * g.bytes_out / largest
        text = (
            f"{g.images} image{'s' if g.images != 1 else ''}: {human_bytes(g.bytes_in)} → "
            f"{human_bytes(g.bytes_out)} ({g.saved_percent:.1f}% saved)"
        )
        parts.append(
            f'<g class="group" data-name="{escape(name)}" data-images="{g.images}" '
            f'data-in="{g.bytes_in}" data-out="{g.bytes_out}"><title>{escape(name)}: '
            f"{escape(text)}</title>"
            f'<text x="0" y="{y + 13}" fill="{_TEXT}" font-weight="bold">{escape(name)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{max(w_in, 1):.1f}" height="14" '
            f'fill="{_IN}"/><rect x="{label_w}" y="{y + 2}" width="{w_out:.1f}" height="14" '
            f'fill="{_OUT}"/><text x="{label_w}" y="{y + 29}" fill="{_TEXT}">'
            f"{escape(text)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def human_bytes(value: int | None) -> str:
    if value is None:
        return "-"
    if value < 10_000:
        return f"{value:,} B"
    if value < 1_000_000:
        return f"{value / 1000:,.1f} kB"
    if value < 1_000_000_000:
        return f"{value / 1e6:,.1f} MB"
    return f"{value / 1e9:,.1f} GB"
