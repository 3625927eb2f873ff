"""Helpers shared by the workflow tests."""

from __future__ import annotations

import json
from pathlib import Path

from imgflow_toolkit.local.runtime import EmbeddedStack

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def states_entered(stack: EmbeddedStack, execution_arn: str) -> list[str]:
    """The path an execution took, state by state (from its history, as the console draws it)."""
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in stack.history(execution_arn)
        if "stateEnteredEventDetails" in e
    ]


def output(description: dict) -> dict:
    return json.loads(description["output"])


def story(stack: EmbeddedStack, executions: list[dict]) -> str:
    """What each execution did, for assertion messages: status, error, path taken."""
    lines = []
    for e in sorted(executions, key=lambda e: e["startDate"]):
        path = " > ".join(states_entered(stack, e["executionArn"]))
        error = f" {e.get('error')}: {str(e.get('cause'))[:200]}" if e.get("error") else ""
        lines.append(f"{e['status']}{error} [{path}]")
    return "\n".join(lines) + f"\ninvocations: {stack.invocations}"
