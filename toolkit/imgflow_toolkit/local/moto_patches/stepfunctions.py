"""Step Functions executions: how moto's executing backend starts, parses, lists and ends them."""

from __future__ import annotations

import datetime
import threading
from typing import Any

# ---------------------------------------------------------------------------
# An ending execution: its output before its status; StartExecution without a name
# ---------------------------------------------------------------------------


def _patch_execution_end_order() -> None:
    """Why: when an execution ends, moto sets its status to SUCCEEDED and only then its
    output (FAILED, then its error and cause). A DescribeExecution from another thread
    in between sees a succeeded execution with no output: under load, 1 image in 600
    was reported ``error`` although it had been compressed and stored. AWS never shows
    a terminal status without its output, so the fields are set first, the status last.
    """
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.asl.eval.program_state import (
        ProgramEnded,
        ProgramError,
        ProgramStopped,
        ProgramTimedOut,
    )
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    original = BaseExecutionWorkerCommunication._reflect_execution_status

    def _reflect_execution_status(self: Any) -> None:
        execution = self.execution
        ended = execution.exec_worker.env.program_state()
        execution.stop_date = datetime.datetime.now(tz=datetime.UTC)
        if isinstance(ended, ProgramEnded):
            execution.output = execution.exec_worker.env.states.get_input()
            execution.exec_status = ExecutionStatus.SUCCEEDED
        elif isinstance(ended, ProgramStopped):
            execution.exec_status = ExecutionStatus.ABORTED
        elif isinstance(ended, ProgramError):
            execution.error = ended.error.get("error")
            execution.cause = ended.error.get("cause")
            execution.exec_status = ExecutionStatus.FAILED
        elif isinstance(ended, ProgramTimedOut):
            execution.exec_status = ExecutionStatus.TIMED_OUT
        else:
            original(self)  # moto's own error for a state it does not know

    _reflect_execution_status.__wrapped__ = original  # type: ignore[attr-defined]
    BaseExecutionWorkerCommunication._reflect_execution_status = _reflect_execution_status


def _patch_start_execution_name() -> None:
    """Why: the executing (parser) backend formats the ARN with ``name`` as given, so
    an unnamed start ends in ``:None`` and a second one collides with the first
    (ExecutionAlreadyExists). AWS names it with a UUID; so does moto's non-executing
    backend. EventBridge starts executions without a name, so this matters.
    """
    from moto.moto_api._internal import mock_random
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: str | None = None,
        trace_header: str | None = None,
    ) -> Any:
        if not name:
            name = str(mock_random.uuid4())
        return original(self, state_machine_arn, name, execution_input, trace_header)

    start_execution.__wrapped__ = original  # type: ignore[attr-defined]
    StepFunctionsParserBackend.start_execution = start_execution


# ---------------------------------------------------------------------------
# ASL parsing: one definition at a time
# ---------------------------------------------------------------------------

_parse_lock = threading.Lock()


def _patch_thread_safe_asl_parsing() -> None:
    """Why: every execution parses its definition in its own thread, and moto's
    Preprocessor keeps its query-language scope stack in a class-level list
    (``Preprocessor._query_language_per_scope``) shared by all instances.
    Executions starting together corrupt it; the loser's thread dies with an
    IndexError before its first event, and its execution stays RUNNING forever.
    Parsing takes milliseconds, so it is serialised.
    """
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    original = AmazonStateLanguageParser.parse
    if getattr(original, "_imgflow_serialised", False):
        return

    def parse(definition: str) -> Any:
        with _parse_lock:
            return original(definition)

    parse._imgflow_serialised = True  # type: ignore[attr-defined]
    parse.__wrapped__ = original  # type: ignore[attr-defined]
    AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]


# ---------------------------------------------------------------------------
# ListExecutions while another thread starts one
# ---------------------------------------------------------------------------


def _patch_status_of_starting_execution() -> None:
    """Why: moto 5.2.5's StartExecution appends the new execution to its state
    machine's list, then sets its status; a ListExecutions in between (another
    thread) fails with AttributeError on ``None.value``. A backfill starts its
    children from the map's threads while the runner polls ListExecutions: a
    local backfill of 1,000 images died this way after about 300. AWS reports an
    execution it has accepted as RUNNING.
    """
    from moto.stepfunctions.parser.backend.execution import Execution

    original = Execution.status
    if getattr(original.fget, "_imgflow_running", False):
        return

    def status(self: Any) -> str:
        return "RUNNING" if self.exec_status is None else self.exec_status.value

    status._imgflow_running = True  # type: ignore[attr-defined]
    status.__wrapped__ = original.fget  # type: ignore[attr-defined]
    Execution.status = property(status)  # type: ignore[method-assign,assignment]
