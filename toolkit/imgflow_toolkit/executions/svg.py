"""The console's execution graph as SVG: a layered layout of the states, the path taken coloured."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from imgflow_toolkit.executions.trace import (
    CAUGHT,
    FAILED,
    NOT_REACHED,
    RUNNING,
    SUCCEEDED,
    ExecutionTrace,
    edges_of,
    error_message,
    states_of,
)

BOX_H = 40
LAYER_GAP = 34
COL_GAP = 28
MARGIN = 20
LANE_GAP = 14
_FILL = {
    SUCCEEDED: ("#e8f5e9", "#2e7d32"),
    FAILED: ("#ffebee", "#c62828"),
    CAUGHT: ("#ffebee", "#c62828"),
    RUNNING: ("#e3f2fd", "#1565c0"),
    NOT_REACHED: ("#fafafa", "#9e9e9e"),
}


@dataclass(frozen=True)
class Box:
    name: str
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


def layout(definition: dict[str, Any]) -> dict[str, Box]:
    """Layered layout: each state one layer below the furthest state that leads to it."""
    states = states_of(definition)
    edges = edges_of(definition)
    out: dict[str, list[str]] = {n: [] for n in states}
    for e in edges:
        if e.target in states:
            out[e.source].append(e.target)
    # Depth-first order from StartAt; edges back to an open state are loops.
    order: list[str] = []
    back: set[tuple[str, str]] = set()
    mark: dict[str, int] = {}

    def visit(node: str) -> None:
        mark[node] = 1
        for target in out[node]:
            if mark.get(target) == 1:
                back.add((node, target))
            elif target not in mark:
                visit(target)
        mark[node] = 2
        order.append(node)

    start = definition.get("StartAt")
    for root in ([start] if start in states else []) + list(states):
        if root not in mark:
            visit(root)
    layer = {n: 0 for n in states}
    for node in reversed(order):
        for target in out[node]:
            if (node, target) not in back:
                layer[target] = max(layer[target], layer[node] + 1)
    rows: dict[int, list[str]] = {}
    for node in reversed(order):
        rows.setdefault(layer[node], []).append(node)
    width = max(170.0, 7.4 * max((len(n) for n in states), default=0) + 28)
    boxes: dict[str, Box] = {}
    widest = max((len(r) for r in rows.values()), default=1)
    total = widest * width + (widest - 1) * COL_GAP
    parents: dict[str, list[str]] = {n: [] for n in states}
    for e in edges:
        if e.target in states and (e.source, e.target) not in back:
            parents[e.target].append(e.source)
    for depth in sorted(rows):
        row = rows[depth]
        if depth:
            # Under the mean of the parents already placed, to keep arrows short.
            def centre(n: str) -> float:
                placed = [boxes[p].cx for p in parents[n] if p in boxes]
                return sum(placed) / len(placed) if placed else total / 2

            row.sort(key=centre)
        span = len(row) * width + (len(row) - 1) * COL_GAP
        left = MARGIN + (total - span) / 2
        for i, node in enumerate(row):
            x = left + i * (width + COL_GAP)
            boxes[node] = Box(node, x, MARGIN + depth * (BOX_H + LAYER_GAP), width, BOX_H)
    return boxes


def render_svg(definition: dict[str, Any], run: ExecutionTrace | None, title: str = "") -> str:
    """An SVG of the workflow: the path taken green, the failed state red, the rest grey."""
    states = states_of(definition)
    placed = layout(definition)
    edges = [e for e in edges_of(definition) if e.target in placed]
    centre = sum(b.cx for b in placed.values()) / max(len(placed), 1)
    # Edges that skip layers run in lanes beside the boxes, on the target's side.
    long_edges = [e for e in edges if not _adjacent(placed[e.source], placed[e.target])]
    side = {e: "left" if placed[e.target].cx < centre - 1 else "right" for e in long_edges}
    n_left = sum(1 for s in side.values() if s == "left")
    n_right = len(long_edges) - n_left
    shift = LANE_GAP * n_left
    boxes = {n: Box(n, b.x + shift, b.y, b.w, b.h) for n, b in placed.items()}
    left_edge = min((b.x for b in boxes.values()), default=MARGIN)
    right = max((b.x + b.w for b in boxes.values()), default=MARGIN)
    bottom = max((b.y + b.h for b in boxes.values()), default=MARGIN)
    width = right + MARGIN + LANE_GAP * n_right
    height = bottom + MARGIN + 26
    taken = run.transitions if run else set()
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="execution-graph" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">',
        f"<title>{escape(title or 'execution graph')}</title>",
        "<defs>",
        *(
            f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" '
            f'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
            for name, colour in _EDGE_COLOUR.items()
        ),
        "</defs>",
    ]
    lanes = {"left": left_edge, "right": right}
    for edge in edges:
        src, dst = boxes[edge.source], boxes[edge.target]
        is_taken = (edge.source, edge.target) in taken
        style = ("catch" if edge.kind == "catch" else "taken") if is_taken else "idle"
        dash = ' stroke-dasharray="5,4"' if edge.kind == "catch" else ""
        if edge in side:
            sign = -1 if side[edge] == "left" else 1
            lanes[side[edge]] += sign * LANE_GAP
            lane = lanes[side[edge]]
            sx = src.x if sign < 0 else src.x + src.w
            tx = (dst.x - 2) if sign < 0 else dst.x + dst.w + 2
            sy, ty = src.y + src.h / 2, dst.y + dst.h / 2
            d = f"M{sx:.1f},{sy:.1f} L{lane:.1f},{sy:.1f} L{lane:.1f},{ty:.1f} L{tx:.1f},{ty:.1f}"
        else:
            d = f"M{src.cx:.1f},{src.y + src.h:.1f} L{dst.cx:.1f},{dst.y - 2:.1f}"
        parts.append(
            f'<path class="edge edge-{style}" data-from="{escape(edge.source)}" '
            f'data-to="{escape(edge.target)}" d="{d}" fill="none" '
            f'stroke="{_EDGE_COLOUR[style]}" stroke-width="{2.5 if is_taken else 1.2}"{dash} '
            f'marker-end="url(#arrow-{style})"/>'
        )
    for name, box in boxes.items():
        state = run.states[name] if run else None
        status = state.status if state else NOT_REACHED
        fill, stroke = _FILL[status]
        tip = f"{name} ({states[name].get('Type', '')}): {status.replace('_', ' ')}"
        if state and state.attempts > 1:
            tip += f", {state.attempts} attempts"
        if state and state.error:
            tip += f"\n{state.error}: {error_message(state.error, state.cause)}"
        label = name if len(name) <= 40 else name[:39] + "…"
        parts.append(
            f'<g class="state state-{status}" data-state="{escape(name)}">'
            f"<title>{escape(tip)}</title>"
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h}" '
            f'rx="6" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{2.5 if status in (FAILED, CAUGHT) else 1.5}"/>'
            f'<text x="{box.cx:.1f}" y="{box.y + box.h / 2 + 4.5:.1f}" text-anchor="middle" '
            f'fill="{"#757575" if status == NOT_REACHED else "#212121"}">{escape(label)}</text>'
            "</g>"
        )
    x = MARGIN
    for text, status in (
        ("path taken", SUCCEEDED),
        ("failed", FAILED),
        ("not reached", NOT_REACHED),
    ):
        fill, stroke = _FILL[status]
        parts.append(
            f'<rect x="{x}" y="{height - 22:.0f}" width="12" height="12" rx="2" '
            f'fill="{fill}" stroke="{stroke}"/><text x="{x + 17}" y="{height - 12:.0f}" '
            f'font-size="11" fill="#424242">{text}</text>'
        )
        x += 30 + 7 * len(text)
    parts.append("</svg>")
    return "\n".join(parts)


_EDGE_COLOUR = {"taken": "#2e7d32", "idle": "#9e9e9e", "catch": "#c62828"}


def _adjacent(src: Box, dst: Box) -> bool:
    return 0 < dst.y - src.y <= BOX_H + LAYER_GAP + 1
