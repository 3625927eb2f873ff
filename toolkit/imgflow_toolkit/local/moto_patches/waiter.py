"""Waiting for an execution to end."""

from __future__ import annotations

import time
from typing import Any

from imgflow.aws.stepfunctions import TERMINAL_STATUSES


def wait_for_execution(
    sfn_client: Any, execution_arn: str, *, timeout: float = 30.0, poll: float = 0.005
) -> dict[str, Any]:
    """Poll ``describe_execution`` until the execution ends; return its description.

    moto runs each execution in a daemon thread. The mock must stay active until
    every execution has ended, or the thread's calls leave the mock (to
    localhost:5000). Raises ``TimeoutError`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        desc = sfn_client.describe_execution(executionArn=execution_arn)
        if desc["status"] in TERMINAL_STATUSES:
            return desc
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{execution_arn} still {desc['status']} after {timeout}s")
        time.sleep(poll)
