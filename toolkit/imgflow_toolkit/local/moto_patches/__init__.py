"""Every patch imgflow needs on moto: ``apply()`` installs them, ``reset()`` clears
what they record.

imgflow runs the real state machine definition locally on moto's Step Functions
backend (the ASL interpreter ported from LocalStack, enabled with
``mock_aws(config={"stepfunctions": {"execute_state_machine": True}})``).
moto 5.2.5 needs a few small patches for that to behave like AWS; each one is a
small named function, with the reason beside it ("Why:"), in the module for
what it patches, and each has a test in ``tests/integration/test_moto_patches.py``
that fails if moto changes under it:

- ``handlers``: the in-process Lambda handlers, by function name, and
  ``LambdaServiceFault``
- ``awslambda``: Lambda invokes run those handlers, no Docker
- ``stepfunctions``: executions (unnamed starts, end order, ASL parsing, status)
- ``clients``: one boto3 client per service for the interpreter, not one per call
- ``sfn_integration``: ``states:startExecution.sync:2`` (casing, poll interval)
- ``item_reader``: the Distributed Map's ItemReader (paging, S3 Inventory)
- ``map_runs``: Distributed Map runs (worker loop, map-run reads, item history)
- ``eventbridge``: rule -> state machine targets, and their failures
- ``s3_events``: the S3 -> EventBridge event in AWS's shape
- ``s3``: atomic conditional writes, the EventBridge configuration read back
- ``retries``: Retry back-off recorded, not slept
- ``memory``: what moto would keep forever, freed
- ``waiter``: waiting for an execution to end

``apply()`` installs them all, once (it is idempotent and thread-safe), and
refuses any moto other than the pinned version: the patches reach into moto's
internals, which change between releases.

Public API::

    apply() -> None
    register_handler(function_name, invoke) / clear_handlers()
    LambdaServiceFault            # raise it from a handler to fail the Lambda *service*
    retry_delays: list[RetryDelay]  # back-off the interpreter would have slept
    eventbridge_failures: list[DeliveryFailure]  # rule -> state machine deliveries that failed
    wait_for_execution(sfn_client, execution_arn, timeout=...) -> dict
    forget_executions / forget_finished_threads / drop_object / forget_sent_notifications /
    forget_deleted_messages
    reset() -> None               # clear handlers and the recorded lists

(``LambdaContext``, what a handler receives as ``context``, is in
``imgflow_toolkit.local.context``.)
"""

from __future__ import annotations

import threading

from imgflow_toolkit.local.moto_patches import (
    awslambda,
    clients,
    eventbridge,
    item_reader,
    map_runs,
    memory,
    retries,
    s3,
    s3_events,
    sfn_integration,
    stepfunctions,
)
from imgflow_toolkit.local.moto_patches.eventbridge import DeliveryFailure, eventbridge_failures
from imgflow_toolkit.local.moto_patches.handlers import (
    LambdaServiceFault,
    clear_handlers,
    register_handler,
)
from imgflow_toolkit.local.moto_patches.memory import (
    drop_object,
    forget_deleted_messages,
    forget_executions,
    forget_finished_threads,
    forget_sent_notifications,
)
from imgflow_toolkit.local.moto_patches.retries import RetryDelay, retry_delays
from imgflow_toolkit.local.moto_patches.s3_events import s3_eventbridge_event
from imgflow_toolkit.local.moto_patches.waiter import wait_for_execution

__all__ = [
    "MOTO_VERSION",
    "DeliveryFailure",
    "LambdaServiceFault",
    "RetryDelay",
    "apply",
    "clear_handlers",
    "drop_object",
    "eventbridge_failures",
    "forget_deleted_messages",
    "forget_executions",
    "forget_finished_threads",
    "forget_sent_notifications",
    "register_handler",
    "reset",
    "retry_delays",
    "s3_eventbridge_event",
    "wait_for_execution",
]

#: The only moto release these patches were written and measured against.
MOTO_VERSION = "5.2.5"

_apply_lock = threading.Lock()
_applied = False


def apply() -> None:
    """Install every patch once. Raises RuntimeError on any moto but 5.2.5."""
    global _applied
    import moto

    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"imgflow's moto patches were written for moto {MOTO_VERSION}, found moto "
            f"{moto.__version__}: pin moto=={MOTO_VERSION} (or re-verify every patch "
            "in imgflow_toolkit.local.moto_patches and its tests)"
        )
    with _apply_lock:
        if _applied:
            return
        awslambda._patch_lambda_invoke()
        awslambda._patch_lambda_simple_backend()
        stepfunctions._patch_start_execution_name()
        eventbridge._patch_eventbridge_state_machine_target()
        s3_events._patch_s3_eventbridge_event_shape()
        retries._patch_retry_sleep()
        s3._patch_s3_conditional_writes()
        s3._patch_s3_eventbridge_configuration_read()
        stepfunctions._patch_thread_safe_asl_parsing()
        memory._patch_untracked_models()
        memory._patch_request_cycle()
        memory._patch_deleted_object_tags()
        stepfunctions._patch_execution_end_order()
        clients._patch_shared_clients()
        sfn_integration._patch_sfn_integration_casing()
        sfn_integration._patch_sync_poll_interval()
        item_reader._patch_item_reader_paging()
        item_reader._patch_item_reader_manifest()
        map_runs._patch_map_worker_loop()
        map_runs._patch_map_run_reads()
        map_runs._patch_map_run_history()
        stepfunctions._patch_status_of_starting_execution()
        _applied = True


def reset() -> None:
    """Forget registered handlers and everything recorded (between tests)."""
    clear_handlers()
    retry_delays.clear()
    eventbridge_failures.clear()
