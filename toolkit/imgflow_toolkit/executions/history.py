"""An execution saved as JSON: its description, its state machine's definition, its history.

``imgflow run`` saves one file per execution under ``DIR/executions/`` so that
``imgflow graph`` and ``imgflow replay`` work after the embedded AWS is gone.
The events keep AWS's own shape (what ``get-execution-history`` returns), so a
history recorded on AWS loads the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

FOLDER = "executions"


@dataclass(frozen=True)
class SavedExecution:
    description: dict[str, Any]  # DescribeExecution
    definition: dict[str, Any]  # the ASL the execution ran
    events: list[dict[str, Any]]  # GetExecutionHistory events, oldest first

    @property
    def arn(self) -> str:
        return self.description["executionArn"]

    @property
    def name(self) -> str:
        return self.description.get("name") or self.arn.rsplit(":", 1)[-1]

    def to_json(self) -> str:
        return json.dumps(
            {
                "execution": self.description,
                "definition": self.definition,
                "events": self.events,
            },
            indent=1,
            ensure_ascii=False,
            default=_jsonable,
        )

    @classmethod
    def from_json(cls, text: str) -> SavedExecution:
        data = json.loads(text)
        definition = data["definition"]
        if isinstance(definition, str):
            definition = json.loads(definition)
        return cls(data["execution"], definition, data["events"])


def _jsonable(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def save(folder: Path, execution: SavedExecution) -> Path:
    """Write ``folder/executions/<name>.json``; return its path."""
    target = folder / FOLDER / f"{execution.name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(execution.to_json() + "\n")
    return target


def load_all(folder: Path) -> dict[str, SavedExecution]:
    """Every execution saved under ``folder``, by execution ARN."""
    found = {}
    for path in sorted((folder / FOLDER).glob("*.json")):
        execution = SavedExecution.from_json(path.read_text())
        found[execution.arn] = execution
    return found


def find(folder: Path, wanted: str, reports: list[dict[str, Any]]) -> SavedExecution:
    """A saved execution by ARN, name, or the key of an image in the run's report.json."""
    saved = load_all(folder)
    if not saved:
        raise FileNotFoundError(
            f"no saved executions under {folder / FOLDER} (an imgflow run DIR?)"
        )
    for execution in saved.values():
        if wanted in (execution.arn, execution.name):
            return execution
    for report in reports:
        if report.get("key") == wanted and report.get("execution") in saved:
            return saved[report["execution"]]
    keys = ", ".join(r["key"] for r in reports if r.get("execution")) or "none"
    raise LookupError(
        f"{wanted!r} is neither an execution of {folder} nor a key in its report ({keys})"
    )
