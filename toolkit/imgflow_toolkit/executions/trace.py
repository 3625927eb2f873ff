"""What one execution did, state by state, replayed from a definition and a history.

Pure: the definition (ASL JSON) and the events of ``GetExecutionHistory`` (as
boto3 or ``aws stepfunctions get-execution-history`` return them, local or
AWS) go in; a trace of what each state did comes out, for ``text`` and ``svg``
to draw. Only the top-level states are traced: a Parallel or Map state is
one box, as it is in the console's collapsed view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imgflow.contract import ErrorInfo

# Event types that mean "the state that is running now failed" (caught or not).
_FAILURE_EVENTS = {
    "TaskFailed",
    "TaskTimedOut",
    "TaskSubmitFailed",
    "TaskStartFailed",
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "LambdaFunctionStartFailed",
    "LambdaFunctionScheduleFailed",
    "ActivityFailed",
    "ActivityTimedOut",
    "ActivityScheduleFailed",
    "MapStateFailed",
    "ParallelStateFailed",
    "MapRunFailed",
    "ExecutionFailed",
    "ExecutionTimedOut",
    "ExecutionAborted",
}
_ATTEMPT_EVENTS = {"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"}

# Status of a state in one execution, as the console colours it.
SUCCEEDED = "succeeded"
FAILED = "failed"  # an error was raised here (or the execution ended here, failed)
CAUGHT = "caught"  # an error raised here went on through a Catch
RUNNING = "running"
NOT_REACHED = "not_reached"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # next | choice | default | catch


@dataclass
class StateTrace:
    name: str
    status: str = NOT_REACHED
    attempts: int = 0
    error: str | None = None
    cause: str | None = None


@dataclass
class ExecutionTrace:
    """What one execution did, state by state."""

    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    path: list[str]  # states entered, in order (a state entered twice appears twice)
    states: dict[str, StateTrace]
    error: str | None = None
    cause: str | None = None
    transitions: set[tuple[str, str]] = field(default_factory=set)

    @property
    def failed_states(self) -> list[str]:
        return [s.name for s in self.states.values() if s.status in (FAILED, CAUGHT)]


def states_of(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return definition.get("States", {})


def edges_of(definition: dict[str, Any]) -> list[Edge]:
    """Every transition the definition allows, Choice rules and Catch included."""
    edges: list[Edge] = []
    seen: set[tuple[str, str]] = set()

    def add(source: str, target: str | None, kind: str) -> None:
        if target and (source, target) not in seen:
            seen.add((source, target))
            edges.append(Edge(source, target, kind))

    for name, state in states_of(definition).items():
        for rule in state.get("Choices", []):
            add(name, rule.get("Next"), "choice")
        add(name, state.get("Default"), "default")
        add(name, state.get("Next"), "next")
        for catcher in state.get("Catch", []):
            add(name, catcher.get("Next"), "catch")
    return edges


def trace(
    definition: dict[str, Any], events: list[dict[str, Any]], status: str | None = None
) -> ExecutionTrace:
    """Replay a history's events over the definition's states."""
    states = {name: StateTrace(name) for name in states_of(definition)}
    result = ExecutionTrace(status=status or "RUNNING", path=[], states=states)
    current: StateTrace | None = None
    for event in sorted(events, key=lambda e: e.get("id", 0)):
        kind = event.get("type", "")
        entered = event.get("stateEnteredEventDetails")
        exited = event.get("stateExitedEventDetails")
        if entered and entered.get("name") in states:
            if current is not None and current.status == RUNNING:
                current.status = SUCCEEDED
            name = entered["name"]
            if result.path:
                result.transitions.add((result.path[-1], name))
            result.path.append(name)
            current = states[name]
            current.status = RUNNING
            if kind == "FailStateEntered":
                current.status = FAILED
        elif exited and current is not None and exited.get("name") == current.name:
            if current.status == RUNNING:
                current.status = SUCCEEDED
        elif kind in _ATTEMPT_EVENTS and current is not None:
            # A retry: the state runs again; its last error stays for the record.
            current.attempts += 1
            current.status = RUNNING
        if kind in _FAILURE_EVENTS:
            details = _details(event)
            error, cause = details.get("error"), details.get("cause")
            if kind.startswith("Execution"):
                result.status = {
                    "ExecutionFailed": "FAILED",
                    "ExecutionTimedOut": "TIMED_OUT",
                    "ExecutionAborted": "ABORTED",
                }[kind]
                result.error, result.cause = error or result.status, cause
                if current is not None and current.status in (RUNNING, FAILED):
                    current.status = FAILED
                    current.error = current.error or error
                    current.cause = current.cause or cause
            elif current is not None:
                current.status, current.error, current.cause = FAILED, error, cause
        elif kind == "ExecutionSucceeded":
            result.status = "SUCCEEDED"
            if current is not None and current.status == RUNNING:
                current.status = SUCCEEDED
    # A failure that the execution went on from was caught.
    for index, name in enumerate(result.path[:-1]):
        state = states[name]
        if state.status == FAILED and states_of(definition)[name].get("Type") != "Fail":
            nxt = result.path[index + 1]
            if any(c.get("Next") == nxt for c in states_of(definition)[name].get("Catch", [])):
                state.status = CAUGHT
    if result.status == "SUCCEEDED":
        for state in states.values():
            if state.status == RUNNING:
                state.status = SUCCEEDED
    return result


def _details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def error_message(error: str | None, cause: str | None) -> str:
    """A Lambda error's message (Cause is JSON there), else the Cause, else the error name."""
    parsed = ErrorInfo.from_states_error({"Error": error, "Cause": cause})
    return parsed.message or error or ""
