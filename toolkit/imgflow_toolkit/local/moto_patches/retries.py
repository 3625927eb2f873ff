"""Retry back-off: recorded, not slept."""

from __future__ import annotations

import threading
import time
from typing import Any, NamedTuple


class RetryDelay(NamedTuple):
    """One Retry back-off the interpreter asked for (and, patched, did not sleep)."""

    execution_arn: str | None
    state_name: str | None
    error: str | None
    retry_count: int | None  # 0 before the first retry, as $$.State.RetryCount
    seconds: float


#: Every Retry back-off, in order, across all executions (cleared by ``reset()``).
retry_delays: list[RetryDelay] = []

_retry_env = threading.local()


class _RecordingTime:
    """Stands in for the ``time`` module inside moto's retrier_decl: ``sleep`` records."""

    def sleep(self, seconds: float) -> None:
        env = getattr(_retry_env, "env", None)
        execution_arn = state_name = error = retry_count = None
        if env is not None:
            try:
                data = env.states.context_object.context_object_data
                execution_arn = data["Execution"]["Id"]
                state_name = data.get("State", {}).get("Name")
                retry_count = data.get("State", {}).get("RetryCount")
            except Exception:  # the record is best effort; never break the execution
                pass
            error = getattr(_retry_env, "error", None)
        retry_delays.append(RetryDelay(execution_arn, state_name, error, retry_count, seconds))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _patch_retry_sleep() -> None:
    """Why: ``RetrierDecl._eval_body`` calls ``time.sleep(interval)`` (IntervalSeconds x
    BackoffRate^n, capped by MaxDelaySeconds, then FULL jitter), so a test of a
    retrier with real intervals would wait for real. Record the intended delay in
    ``retry_delays`` instead, with the execution, state and error it was for.
    """
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    retrier_decl.time = _RecordingTime()  # type: ignore[assignment]
    original = retrier_decl.RetrierDecl._eval_body

    def _eval_body(self: Any, env: Any) -> None:
        error_name = env.stack[-1] if env.stack else None
        _retry_env.env = env
        _retry_env.error = getattr(error_name, "error_name", None)
        try:
            original(self, env)
        finally:
            _retry_env.env = None
            _retry_env.error = None

    _eval_body.__wrapped__ = original  # type: ignore[attr-defined]
    retrier_decl.RetrierDecl._eval_body = _eval_body
