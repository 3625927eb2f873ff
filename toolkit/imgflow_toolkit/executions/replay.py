"""Replay failed executions: redrive them where AWS allows it, else start them anew.

AWS can redrive a STANDARD execution that failed less than 14 days ago and
that DescribeExecution calls REDRIVABLE: it resumes from the failed state.
Any other failure is replayed by starting a new execution with the original
input, named ``<failed name>-replay-<n>`` so the console links the two.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from imgflow.aws.stepfunctions import TERMINAL_STATUSES, ExecutionAlreadyExistsError
from imgflow.contract import ErrorInfo

REDRIVE_WINDOW = timedelta(days=14)
NAME_LIMIT = 80  # StartExecution's name length limit


class StepFunctionsApi(Protocol):
    """What replay needs from Step Functions (imgflow.aws.stepfunctions implements it)."""

    def state_machine_type(self, state_machine_arn: str) -> str: ...
    def failed_executions(
        self, state_machine_arn: str, since: datetime
    ) -> list[dict[str, Any]]: ...
    def describe(self, execution_arn: str) -> dict[str, Any]: ...
    def redrive(self, execution_arn: str) -> None: ...
    def start(self, state_machine_arn: str, name: str, payload: str) -> str: ...


@dataclass(frozen=True)
class ReplayPlan:
    execution_arn: str
    name: str
    error: str | None
    action: str  # redrive | start
    why: str


@dataclass
class ReplayResult:
    plan: ReplayPlan
    execution_arn: str | None  # the redriven execution, or the new one
    status: str  # planned (dry run) | RUNNING | SUCCEEDED | FAILED | ...
    error: str | None = None


def replay_name(failed_name: str, attempt: int) -> str:
    """``<failed name>-replay-<n>``, the failed name shortened to fit 80 characters."""
    suffix = f"-replay-{attempt}"
    base = re.sub(r"-replay-\d+$", "", failed_name)
    return base[: NAME_LIMIT - len(suffix)] + suffix


def parse_since(text: str, now: datetime) -> datetime:
    """``30m``, ``24h``, ``7d`` before now, or an ISO date/time (UTC when naive)."""
    match = re.fullmatch(r"(\d+)\s*([mhd])", text.strip())
    if match:
        amount, unit = int(match[1]), match[2]
        return now - {"m": timedelta(minutes=amount), "h": timedelta(hours=amount)}.get(
            unit, timedelta(days=amount)
        )
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since {text!r}: use 30m, 24h, 7d or an ISO date") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def plan(description: dict[str, Any], machine_type: str, now: datetime) -> ReplayPlan:
    """Redrive or start anew, and why, for one FAILED execution's description."""
    arn = description["executionArn"]
    name = description.get("name") or arn.rsplit(":", 1)[-1]
    error = description.get("error")
    stopped = description.get("stopDate")
    if isinstance(stopped, str):
        stopped = datetime.fromisoformat(stopped)
    redrive_status = description.get("redriveStatus")
    if machine_type != "STANDARD":
        why = f"{machine_type} workflows cannot be redriven"
    elif stopped is not None and now - stopped >= REDRIVE_WINDOW:
        why = f"failed {(now - stopped).days} days ago, past the 14-day redrive window"
    elif redrive_status not in (None, "REDRIVABLE"):
        reason = description.get("redriveStatusReason") or redrive_status
        why = f"not redrivable: {reason}"
    else:
        return ReplayPlan(arn, name, error, "redrive", "redrivable, resumes at the failed state")
    return ReplayPlan(arn, name, error, "start", why + "; starting anew with the original input")


def replay(
    api: StepFunctionsApi,
    state_machine_arn: str,
    since: datetime,
    *,
    error: str | None = None,
    dry_run: bool = False,
    wait: bool = False,
    now: datetime | None = None,
    sleep: Callable[[float], None] | None = None,
    poll_seconds: float = 2.0,
    max_polls: int = 450,
) -> list[ReplayResult]:
    """Replay every FAILED execution of a state machine since a time (of one error, if given)."""
    now = now or datetime.now(UTC)
    machine_type = api.state_machine_type(state_machine_arn)
    results = []
    for summary in api.failed_executions(state_machine_arn, since):
        description = api.describe(summary["executionArn"])
        if error is not None and _error_type(description) != error:
            continue
        step = plan(description, machine_type, now)
        if dry_run:
            results.append(ReplayResult(step, None, "planned"))
            continue
        if step.action == "redrive":
            api.redrive(step.execution_arn)
            target = step.execution_arn
        else:
            target = _start_named(api, state_machine_arn, step.name, description["input"])
        results.append(ReplayResult(step, target, "RUNNING"))
    if wait and not dry_run:
        for result in results:
            _wait(api, result, sleep, poll_seconds, max_polls)
    return results


def _error_type(description: dict[str, Any]) -> str | None:
    if not description.get("error"):
        return None
    info = ErrorInfo.from_states_error(
        {"Error": description["error"], "Cause": description.get("cause")}
    )
    return info.type


def _start_named(api: StepFunctionsApi, machine: str, failed_name: str, payload: str) -> str:
    for attempt in range(1, 100):
        try:
            return api.start(machine, replay_name(failed_name, attempt), payload)
        except ExecutionAlreadyExistsError:
            continue
    raise RuntimeError(f"{failed_name}: 99 replays exist already")


def _wait(
    api: StepFunctionsApi,
    result: ReplayResult,
    sleep: Callable[[float], None] | None,
    poll_seconds: float,
    max_polls: int,
) -> None:
    import time

    pause = sleep or time.sleep
    for _ in range(max_polls):
        description = api.describe(result.execution_arn or "")
        result.status = description["status"]
        if result.status in TERMINAL_STATUSES:
            result.error = _error_type(description)
            return
        pause(poll_seconds)


def format_results(results: list[ReplayResult]) -> str:
    """One line per failed execution: what was done and how it ended."""
    if not results:
        return "no failed executions to replay"
    rows = [("failed execution", "error", "action", "replay", "status")]
    for r in results:
        if r.plan.action == "redrive":
            target = "(same execution)"
        else:
            target = (r.execution_arn or replay_name(r.plan.name, 1)).rsplit(":", 1)[-1]
        rows.append(
            (
                r.plan.name,
                r.plan.error or "",
                r.plan.action,
                target,
                r.status + (f" ({r.error})" if r.error else ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += [f"  {r.plan.name}: {r.plan.why}" for r in results]
    return "\n".join(lines)
