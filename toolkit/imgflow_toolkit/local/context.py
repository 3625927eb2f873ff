"""The Lambda context object a handler receives, built the way the Lambda service builds it.

One builder for every local invocation: moto's Lambda invoke (a Task of the
state machine), ``EmbeddedStack.invoke`` (``imgflow invoke``) and the tests.
"""

from __future__ import annotations

import datetime
import time
import uuid
from dataclasses import dataclass, field


@dataclass
class LambdaContext:
    """The attributes and method of the AWS Lambda Python context object handlers use."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_seconds: float = 3.0
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not self._deadline:
            self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        # Informational only: an in-process handler is never killed for being slow
        # (the worker pool enforces Timeout on handlers in worker processes).
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_context(
    function_name: str,
    function_arn: str,
    *,
    memory_mb: int,
    timeout_s: float,
    version: str = "$LATEST",
    request_id: str | None = None,
) -> LambdaContext:
    """A fresh invocation's context: a new request id, Lambda's log group and stream names."""
    now = datetime.datetime.now(datetime.UTC)
    return LambdaContext(
        function_name=function_name,
        function_version=version,
        invoked_function_arn=function_arn,
        memory_limit_in_mb=memory_mb,
        aws_request_id=request_id or str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{function_name}",
        log_stream_name=f"{now:%Y/%m/%d}/[{version}]{uuid.uuid4().hex}",
        timeout_seconds=timeout_s,
    )
