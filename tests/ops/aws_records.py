"""Recorded AWS responses (tests/data/histories) shaped for botocore's Stubber."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

HISTORIES = Path(__file__).resolve().parents[1] / "data" / "histories"
ASL = Path(__file__).resolve().parents[2] / "statemachine" / "compress_image.asl.json"


def _dates(node: Any) -> Any:
    """The CLI prints timestamps as ISO text; boto3 returns datetimes."""
    if isinstance(node, dict):
        return {
            k: datetime.fromisoformat(v)
            if k in ("timestamp", "startDate", "stopDate", "redriveDate") and isinstance(v, str)
            else _dates(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_dates(v) for v in node]
    return node


def recorded(name: str) -> dict[str, Any]:
    """``<name>.history.json`` and ``<name>.describe-execution.json`` as boto3 returns them."""
    history = json.loads((HISTORIES / f"{name}.history.json").read_text())
    describe = json.loads((HISTORIES / f"{name}.describe-execution.json").read_text())
    return {"history": _dates(history), "describe": _dates(describe)}


def definition() -> dict[str, Any]:
    return json.loads(ASL.read_text())
