"""The console's execution graph in the terminal: the path taken, one state a line."""

from __future__ import annotations

from typing import Any

from imgflow_toolkit.executions.trace import (
    CAUGHT,
    FAILED,
    NOT_REACHED,
    RUNNING,
    SUCCEEDED,
    ExecutionTrace,
    error_message,
    states_of,
)

_MARK = {SUCCEEDED: "✔", FAILED: "✘", CAUGHT: "✘", RUNNING: "…", NOT_REACHED: "·"}
_COLOUR = {SUCCEEDED: "32", FAILED: "31", CAUGHT: "33", RUNNING: "34", NOT_REACHED: "2"}


def render_text(
    definition: dict[str, Any], run: ExecutionTrace, title: str = "", colour: bool = False
) -> str:
    """The path taken, one state a line, then the states not reached."""

    def paint(text: str, status: str) -> str:
        return f"\033[{_COLOUR[status]}m{text}\033[0m" if colour else text

    states = states_of(definition)
    width = max((len(n) for n in states), default=0)
    lines = [f"{title}  {run.status}".strip()]
    if run.error:
        lines.append(f"  error: {run.error}: {error_message(run.error, run.cause)}")
    lines.append("")
    for index, name in enumerate(run.path):
        state = run.states[name]
        kind = states[name].get("Type", "")
        note = ""
        if state.attempts > 1:
            note += f"  {state.attempts} attempts"
        if state.status == CAUGHT:
            note += f"  {state.error} (caught)"
        elif state.status == FAILED and state.error:
            note += f"  {state.error}"
        mark = _MARK[state.status]
        lines.append(paint(f"  {mark} {name.ljust(width)}  {kind:<8}{note}".rstrip(), state.status))
        if index < len(run.path) - 1:
            caught = state.status == CAUGHT
            lines.append(paint("  ↓ caught" if caught else "  ↓", CAUGHT if caught else SUCCEEDED))
    unreached = [n for n, s in run.states.items() if s.status == NOT_REACHED]
    if unreached:
        lines.append("")
        lines.append(paint("  not reached: " + ", ".join(unreached), NOT_REACHED))
    return "\n".join(lines)
