"""Every patch imgflow needs on moto, in one place.

imgflow runs the real state machine definition locally on moto's Step Functions
backend (the ASL interpreter ported from LocalStack, enabled with
``mock_aws(config={"stepfunctions": {"execute_state_machine": True}})``).
moto 5.2.5 needs a few small patches for that to behave like AWS; each one is a
small named function below, with the reason beside it, and each has a test in
``tests/integration/test_moto_patches.py`` that fails if moto changes under it.

``apply()`` installs them all, once (it is idempotent and thread-safe), and
refuses any moto other than the pinned version: the patches reach into moto's
internals, which change between releases.

Public API::

    apply() -> None
    register_handler(function_name, invoke) / clear_handlers()
    LambdaContext                 # what a handler receives as ``context``
    LambdaServiceFault            # raise it from a handler to fail the Lambda *service*
    retry_delays: list[RetryDelay]  # back-off the interpreter would have slept
    eventbridge_failures: list[DeliveryFailure]  # rule -> state machine deliveries that failed
    wait_for_execution(sfn_client, execution_arn, timeout=...) -> dict
    reset() -> None               # clear handlers and the recorded lists
"""

from __future__ import annotations

import copy
import datetime
import functools
import itertools
import json
import logging
import re
import secrets
import string
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import quote_plus

from imgflow.aws.stepfunctions import TERMINAL_STATUSES
from imgflow_toolkit.local.context import LambdaContext, lambda_context
from imgflow_toolkit.local.workers import (
    FunctionError,
    marshal_error_payload,
    runtime_error_payload,
)

LOG = logging.getLogger(__name__)

#: The only moto release these patches were written and measured against.
MOTO_VERSION = "5.2.5"

_apply_lock = threading.Lock()
_applied = False


# ---------------------------------------------------------------------------
# Public records and types
# ---------------------------------------------------------------------------


class RetryDelay(NamedTuple):
    """One Retry back-off the interpreter asked for (and, patched, did not sleep)."""

    execution_arn: str | None
    state_name: str | None
    error: str | None
    retry_count: int | None  # 0 before the first retry, as $$.State.RetryCount
    seconds: float


class DeliveryFailure(NamedTuple):
    """An EventBridge rule could not start its target state machine."""

    rule_arn: str
    target_arn: str
    error: str
    message: str
    event: dict[str, Any]


#: Every Retry back-off, in order, across all executions (cleared by ``reset()``).
retry_delays: list[RetryDelay] = []

#: Rule -> state machine deliveries that failed (cleared by ``reset()``).
eventbridge_failures: list[DeliveryFailure] = []


class LambdaServiceFault(Exception):
    """Raise from a registered handler to make the Lambda *service* fail the invoke.

    ``error`` is the name Step Functions shows (and Retry/Catch match):

    - ``"Lambda.<Code>"`` (``Lambda.ServiceException``, ``Lambda.TooManyRequestsException``,
      ``Lambda.AWSLambdaException``, ``Lambda.SdkClientException``, ``Lambda.Unknown``...):
      the Invoke API call itself fails with HTTP ``status`` and error code ``<Code>``, as
      when the Lambda service throws. Through ``arn:aws:states:::lambda:invoke`` the
      interpreter names it ``Lambda.<Code>``, like AWS. (Through a plain function-ARN
      ``Resource`` moto's interpreter names any API error ``Exception``.)
    - anything else (``Sandbox.Timedout``, ``Runtime.ExitError``, ...): the invoke
      succeeds with ``FunctionError: Unhandled`` and the payload
      ``{"errorType": error, "errorMessage": message}``, which is what Lambda returns
      when a function times out or its runtime crashes; Step Functions names it
      ``error`` through either resource form.
    """

    _STATUS = {
        "TooManyRequestsException": 429,
        "EC2ThrottledException": 502,
        "ENILimitReachedException": 502,
        "ResourceNotReadyException": 502,
        "RequestTooLargeException": 413,
        "ResourceNotFoundException": 404,
    }

    def __init__(
        self,
        error: str = "Lambda.ServiceException",
        message: str | None = None,
        *,
        status: int | None = None,
    ) -> None:
        self.error = error
        self.message = message if message is not None else f"simulated {error}"
        code = error.removeprefix("Lambda.")
        self.status = status if status is not None else self._STATUS.get(code, 500)
        super().__init__(f"{self.error}: {self.message}")

    @property
    def is_api_error(self) -> bool:
        return self.error.startswith("Lambda.")


HandlerCallable = Callable[[Any, LambdaContext], Any]
_handlers: dict[str, HandlerCallable] = {}
_handlers_lock = threading.Lock()


def register_handler(function_name: str, invoke: HandlerCallable) -> None:
    """Run ``invoke(event, context)`` in-process whenever moto invokes ``function_name``.

    ``function_name`` is the Lambda function's name (not its ARN). Registering the
    same name again replaces the handler.
    """
    if not function_name or ":" in function_name:
        raise ValueError(f"register_handler wants a function name, got {function_name!r}")
    with _handlers_lock:
        _handlers[function_name] = invoke


def clear_handlers() -> None:
    with _handlers_lock:
        _handlers.clear()


def reset() -> None:
    """Forget registered handlers and everything recorded (between tests)."""
    clear_handlers()
    retry_delays.clear()
    eventbridge_failures.clear()


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


def forget_executions(state_machine_arn: str, execution_arns: set[str]) -> int:
    """Drop ended executions from moto's memory; return how many were dropped.

    Step Functions keeps a Standard execution's history for 90 days; moto
    keeps every one in memory until the mock stops, so a local run of
    thousands of images would grow without bound. The runner saves each
    history first, then forgets it. Running executions are never dropped.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    region = state_machine_arn.split(":")[3]
    backend = stepfunctions_parser_backends[DEFAULT_ACCOUNT_ID][region]
    machine = backend.describe_state_machine(state_machine_arn)
    kept = [
        e
        for e in machine.executions
        if e.execution_arn not in execution_arns or e.stop_date is None
    ]
    dropped = len(machine.executions) - len(kept)
    machine.executions[:] = kept
    return dropped


def forget_finished_threads() -> int:
    """Drop ended threads from the interpreter's registry; return how many were dropped.

    moto's ASL interpreter (ported from LocalStack) appends every thread it
    starts (one per execution, one per Task state...) to the module-level
    list ``TMP_THREADS``, which LocalStack empties at shutdown and moto
    never does. Each ended thread keeps its execution's environment alive:
    about 6 threads and 130 KB per image, without bound, in a long local run.
    """
    from moto.stepfunctions.parser.utils import TMP_THREADS

    before = len(TMP_THREADS)
    TMP_THREADS[:] = [thread for thread in TMP_THREADS if thread.is_alive()]
    return before - len(TMP_THREADS)


def drop_object(bucket_name: str, key: str) -> None:
    """Remove every version of ``key`` (delete markers included) from moto's S3, at once.

    What a lifecycle expiry of all versions does; the runner calls it once a
    key's result is written out. Not through ListObjectVersions: moto's
    deep-copies every version of the bucket, and iterates the keys unlocked,
    so a concurrent write makes it fail ("'NoneType' object is not
    iterable", seen under load). Done under the lock PutObject, CopyObject
    and DeleteObject take (``_patch_s3_conditional_writes``).
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    bucket = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_bucket(bucket_name)
    with _put_lock:
        versions = bucket.keys.getlist(key, [])
        # Not bucket.keys.pop(key): it calls dispose() on delete markers, which lack it.
        dict.pop(bucket.keys, key, None)
    for version in versions:
        if hasattr(version, "dispose"):
            version.dispose()  # closes the buffer that held the object's bytes


def forget_sent_notifications() -> None:
    """Empty moto's record of every message each SNS topic has published.

    moto keeps them all (``Topic.sent_notifications``, for its dashboard);
    subscribers already have their copies.
    """
    from moto.sns.models import sns_backends

    for account in sns_backends.values():
        for backend in account.values():
            for topic in backend.topics.values():
                topic.sent_notifications.clear()


def _patch_untracked_models() -> None:
    """Why: moto keeps every model instance it ever creates, for its dashboard.

    ``BaseModel.__new__`` appends each instance to its class's
    ``instances_tracked`` list, which only ``/moto-api`` and ``reset()``
    read. Every FakeKey stays alive with its object's bytes, the deep copy
    that each ListObjectVersions makes of every version included, and so
    does every execution, message and event: a local run of thousands of
    images grew by about 140 KB per image, without bound. imgflow never
    uses the dashboard, so instances are not tracked and are freed when
    nothing else holds them (a FakeKey closes its buffer when collected;
    S3's reset still disposes of every key its buckets hold).
    """
    from moto.core.common_models import BaseModel

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    __new__.__wrapped__ = BaseModel.__new__  # type: ignore[attr-defined]
    BaseModel.__new__ = staticmethod(__new__)  # type: ignore[assignment,method-assign]


# ---------------------------------------------------------------------------
# apply()
# ---------------------------------------------------------------------------


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
        _patch_lambda_invoke()
        _patch_lambda_simple_backend()
        _patch_start_execution_name()
        _patch_eventbridge_state_machine_target()
        _patch_s3_eventbridge_event_shape()
        _patch_retry_sleep()
        _patch_s3_conditional_writes()
        _patch_s3_eventbridge_configuration_read()
        _patch_thread_safe_asl_parsing()
        _patch_untracked_models()
        _patch_execution_end_order()
        _patch_sfn_integration_casing()
        _patch_sync_poll_interval()
        _patch_item_reader_paging()
        _patch_item_reader_manifest()
        _patch_map_worker_loop()
        _patch_map_run_reads()
        _patch_map_run_history()
        _patch_status_of_starting_execution()
        _applied = True


# ---------------------------------------------------------------------------
# 1. Lambda: run registered Python handlers in-process, no Docker
# ---------------------------------------------------------------------------


class _LambdaApiError(Exception):
    """Placeholder; replaced by a moto JsonRESTError subclass in _patch_lambda_invoke."""


def _invoke_registered_handler(fn: Any, event: Any) -> tuple[str, bool, str]:
    """Replacement for ``LambdaFunction._invoke_lambda(self, event)``.

    Returns ``(payload_json, is_error, logs)`` like the original.
    """
    # moto passes the decoded request body; an empty body arrives as the text "{}".
    if event is None or event == "{}":
        event = {}
    name = fn.function_name
    handler = _handlers.get(name)
    request_id = str(uuid.uuid4())
    if handler is None:
        # Clear error rather than moto's Docker path: in imgflow's local runtime every
        # function has an in-process handler, and falling back to Docker (absent here)
        # or to an echo would turn a wiring mistake into a misleading result.
        payload = {
            "errorMessage": (
                f"no in-process handler registered for Lambda function {name!r} "
                f"(registered: {sorted(_handlers)}); call "
                "imgflow_toolkit.local.moto_patches.register_handler()"
            ),
            "errorType": "HandlerNotRegistered",
            "requestId": request_id,
            "stackTrace": [],
        }
        return json.dumps(payload), True, ""
    context = lambda_context(
        name,
        fn.function_arn,
        memory_mb=int(fn.memory_size or 128),
        timeout_s=float(fn.timeout or 3),
        version=str(fn.version),
        request_id=request_id,
    )
    try:
        result = handler(event, context)
    except LambdaServiceFault as fault:
        if fault.is_api_error:
            raise _LambdaApiError(fault) from fault
        payload = {"errorType": fault.error, "errorMessage": fault.message}
        return json.dumps(payload), True, ""
    except FunctionError as failed:  # from a worker process: Lambda's own payload
        return json.dumps(failed.payload), True, ""
    except Exception as exc:
        return json.dumps(runtime_error_payload(exc, request_id)), True, ""
    try:
        return json.dumps(result), False, ""
    except (TypeError, ValueError) as exc:
        return json.dumps(marshal_error_payload(exc, request_id)), True, ""


def _patch_lambda_invoke() -> None:
    """Why: moto's ``LambdaFunction._invoke_lambda`` starts a Docker container.

    It receives the event already decoded (``fn.invoke`` json-loads the body) and
    returns ``(json_text, is_error, logs)``; ``is_error`` becomes the
    ``X-Amz-Function-Error`` header, and the interpreter then names the Step
    Functions error after the payload's ``errorType``.
    """
    global _LambdaApiError
    from moto.awslambda.models import LambdaFunction
    from moto.core.exceptions import JsonRESTError

    class LambdaApiError(JsonRESTError):
        # A failed Invoke API call (HTTP 4xx/5xx with x-amzn-ErrorType), which the
        # interpreter's lambda:invoke integration names "Lambda.<code>".
        def __init__(self, fault: LambdaServiceFault) -> None:
            super().__init__(fault.error.removeprefix("Lambda."), fault.message)
            self.code = fault.status

    _LambdaApiError = LambdaApiError  # type: ignore[misc]

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        return _invoke_registered_handler(self, event)

    _invoke_lambda.__wrapped__ = LambdaFunction._invoke_lambda  # type: ignore[attr-defined]
    LambdaFunction._invoke_lambda = _invoke_lambda


def _patch_lambda_simple_backend() -> None:
    """Why: with ``config={"lambda": {"use_docker": False}}`` moto swaps in
    ``LambdaSimpleBackend``, whose ``invoke`` never calls ``_invoke_lambda``: it echoes
    the request body (or pops a canned result). Send it through the normal path
    (``LambdaFunction.invoke`` -> patched ``_invoke_lambda``) so both configurations
    run the registered handlers, and report an unregistered function the same way.
    """
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original = LambdaSimpleBackend.invoke

    def invoke(
        self: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> Any:
        return LambdaBackend.invoke(self, function_name, qualifier, body, headers, response_headers)

    invoke.__wrapped__ = original  # type: ignore[attr-defined]
    LambdaSimpleBackend.invoke = invoke


# ---------------------------------------------------------------------------
# 2. StartExecution without a name
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
# 3. EventBridge rule -> Step Functions state machine target
# ---------------------------------------------------------------------------


def _event_for_target(event: dict[str, Any]) -> dict[str, Any]:
    """The event as AWS hands it to a target: ``time`` as ISO 8601 (moto keeps a float)."""
    out = copy.deepcopy(event)
    out.pop("ingestion-time", None)
    t = out.get("time")
    if isinstance(t, int | float):
        out["time"] = datetime.datetime.fromtimestamp(t, datetime.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    elif isinstance(t, datetime.datetime):
        out["time"] = t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    """Input / InputPath / InputTransformer, as EventBridge applies them to a target."""
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        from jsonpath_ng.ext import parse

        matches = parse(target["InputPath"]).find(event)
        return json.dumps(matches[0].value if matches else None)
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.utils import EventTemplateParser

        result = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
        return result if isinstance(result, str) else json.dumps(result)
    return json.dumps(event)


def _send_to_dead_letter_queue(
    rule: Any, target: dict[str, Any], event: dict[str, Any], error: str, message: str
) -> None:
    dlq_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not dlq_arn:
        return
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, queue_name = dlq_arn.split(":", 5)

    def attr(value: str) -> dict[str, str]:
        return {"DataType": "String", "StringValue": value}

    # The message attributes EventBridge puts on a dead-lettered event.
    sqs_backends[account][region].send_message(
        queue_name=queue_name,
        message_body=json.dumps(event),
        message_attributes={
            "RULE_ARN": attr(rule.arn),
            "TARGET_ARN": attr(target["Arn"]),
            "ERROR_CODE": attr(error),
            "ERROR_MESSAGE": attr(message),
        },
    )


def _start_state_machine_target(rule: Any, target: dict[str, Any], event: dict[str, Any]) -> None:
    from moto.stepfunctions.responses import get_backend

    arn = target["Arn"]
    _, _, _, region, account, _ = arn.split(":", 5)
    payload = _event_for_target(event)
    try:
        execution_input = _target_input(target, payload)
        # No name: EventBridge cannot name executions (patch 2 gives it a UUID).
        get_backend(account, region).start_execution(arn, None, execution_input)
    except Exception as exc:
        error = getattr(exc, "code", None)
        error = error if isinstance(error, str) else type(exc).__name__
        message = getattr(exc, "message", None) or str(exc)
        LOG.warning("EventBridge rule %s could not start %s: %s", rule.arn, arn, message)
        eventbridge_failures.append(DeliveryFailure(rule.arn, arn, error, message, payload))
        try:
            _send_to_dead_letter_queue(rule, target, payload, error, message)
        except Exception:
            LOG.exception("could not dead-letter the event for rule %s", rule.arn)


def _is_state_machine_arn(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) >= 7 and parts[2] == "states" and parts[5] == "stateMachine"


def _patch_eventbridge_state_machine_target() -> None:
    """Why: ``Rule.send_to_targets`` raises NotImplementedError for a state machine
    target, and both callers drop it (S3 swallows every exception): nothing starts,
    and the rule's other targets are skipped too. Start an execution with the event
    (or the target's Input / InputPath / InputTransformer) as input; IAM (RoleArn) is
    not modelled. A failed start goes to the target's DeadLetterConfig queue, as
    EventBridge does once retries are exhausted (no retries here). Disabled rules
    deliver nothing, as on AWS (moto delivered anyway).
    """
    from moto.events.models import Rule

    original = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if getattr(self, "state", "ENABLED") != "ENABLED":
            return
        if not self.event_pattern.matches_event(original_event):
            return
        ours = [t for t in self.targets if _is_state_machine_arn(t["Arn"])]
        others = [t for t in self.targets if not _is_state_machine_arn(t["Arn"])]
        for target in ours:
            _start_state_machine_target(self, target, original_event)
        if others:
            rule = copy.copy(self)  # shallow: same rule, only the unsupported targets removed
            rule.targets = others
            original(rule, original_event, transform_input)

    send_to_targets.__wrapped__ = original  # type: ignore[attr-defined]
    Rule.send_to_targets = send_to_targets


# 3b. The S3 -> EventBridge event itself

_REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject",
    "s3:ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
}
_sequencer = itertools.count(time.time_ns() // 1000)


def _request_id() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))


def s3_eventbridge_event(account_id: str, bucket: Any, event_name: str, key: Any) -> dict[str, Any]:
    """The "aws.s3" event AWS sends to EventBridge (docs: S3 "EventBridge event
    message structure"), built from moto's bucket and key. ``time`` stays a unix
    float, moto's internal convention (targets format it).
    """
    from moto.core.utils import unix_time
    from moto.s3.notifications import _detail_type

    detail_type = _detail_type(event_name)
    obj: dict[str, Any] = {
        # URL-encoded like every S3 notification ("a b+c" -> "a+b%2Bc"); "/" kept.
        # AWS Lambda Powertools' S3EventBridgeNotificationObject.key unquote_plus-es it.
        "key": quote_plus(key.name, safe="/"),
    }
    is_delete = detail_type == "Object Deleted"
    if not is_delete and getattr(key, "size", None) is not None:
        obj["size"] = key.size
    etag = getattr(key, "etag", None)
    if etag:
        obj["etag"] = etag.replace('"', "")
    version_id = getattr(key, "version_id", None)
    if version_id and version_id != "null" and bucket.versioning_status in ("Enabled", "Suspended"):
        obj["version-id"] = version_id
    obj["sequencer"] = f"{next(_sequencer):016X}"
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": obj,
        "request-id": _request_id(),
        "requester": account_id,
        "source-ip-address": "127.0.0.1",
    }
    if event_name in _REASONS:
        detail["reason"] = _REASONS[event_name]
    if is_delete:
        marker = type(key).__name__ == "FakeDeleteMarker"
        detail["deletion-type"] = "Delete Marker Created" if marker else "Permanently Deleted"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": account_id,
        "time": unix_time(),
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": detail,
    }


def _patch_s3_eventbridge_event_shape() -> None:
    """Why: moto's S3 -> EventBridge event differs from AWS where it matters:
    the same fixed ``id`` for every event (breaks de-duplication by event id),
    ``eTag`` where AWS says ``etag``, ``"version-id": null`` on unversioned buckets
    (AWS omits it; ``IsPresent`` would be true), the key not URL-encoded, a constant
    ``sequencer``, ``reason`` "ObjectCreated" where AWS says "PutObject"/"CopyObject"/...,
    and it is sent to every event bus (AWS: the default bus only). One failing rule
    also stopped delivery to the rest (one bare ``except`` around the loop).
    """
    from moto.events.models import events_backends
    from moto.s3 import notifications

    original = notifications._send_event_bridge_message

    def _send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        try:
            event = s3_eventbridge_event(account_id, bucket, event_name, key)
            bus = events_backends[account_id][bucket.region_name].event_buses.get("default")
        except Exception:
            # S3 never fails the request because a notification could not be built.
            LOG.exception("could not build the S3 EventBridge event for %s", event_name)
            return
        for rule in list(bus.rules.values()) if bus else []:
            try:
                rule.send_to_targets(copy.deepcopy(event), transform_input=False)
            except Exception:
                LOG.exception("EventBridge rule %s failed on an S3 event", rule.arn)

    _send_event_bridge_message.__wrapped__ = original  # type: ignore[attr-defined]
    notifications._send_event_bridge_message = _send_event_bridge_message


# ---------------------------------------------------------------------------
# 4. Retry back-off: record, do not sleep
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# 6. S3 conditional writes: atomic PutObject, CopyObject honouring its conditions
# ---------------------------------------------------------------------------

_put_lock = threading.RLock()


def _patch_s3_conditional_writes() -> None:
    """Make moto's conditional PutObject (and DeleteObject) atomic, as S3's are.

    moto 5.2.5 checks If-Match / If-None-Match and then stores, unlocked: two
    threads racing on one key could both pass the check, where S3 lets exactly
    one win (the other gets 412 or 409). Its CopyObject ignores those
    conditions on the destination altogether. imgflow settles duplicate
    executions with these writes (imgflow.steps.store and .quarantine), so
    the local runtime must not be laxer than S3. Idempotent.
    """
    from moto.s3.exceptions import MissingKey, PreconditionFailed
    from moto.s3.responses import S3Response

    if getattr(S3Response.put_object, "_imgflow_serialised", False):
        return
    original_put, original_copy = S3Response.put_object, S3Response.copy_object
    original_delete = S3Response.delete_object

    def put_object(self: Any) -> Any:
        with _put_lock:
            return original_put(self)

    def delete_object(self: Any) -> Any:
        # A delete disposes the key's buffer: racing a PutObject of the same key
        # (duplicate executions staging the same result), it closed the file the
        # put was still reading for its ETag ("I/O operation on closed file").
        with _put_lock:
            return original_delete(self)

    def copy_object(self: Any) -> Any:
        with _put_lock:
            if_match = self.headers.get("If-Match")
            if_none_match = self.headers.get("If-None-Match")
            if if_match or if_none_match:
                key_name = self.parse_key_name()
                existing = self.backend.get_object(self.bucket_name, key_name)
                if if_none_match == "*" and existing is not None:
                    raise PreconditionFailed("If-None-Match")
                if if_match and existing is None:
                    raise MissingKey(key=key_name)
                if if_match and if_match.strip('"') != existing.etag.strip('"'):
                    raise PreconditionFailed("If-Match")
            return original_copy(self)

    put_object._imgflow_serialised = True  # type: ignore[attr-defined]
    put_object.__wrapped__ = original_put  # type: ignore[attr-defined]
    copy_object.__wrapped__ = original_copy  # type: ignore[attr-defined]
    delete_object.__wrapped__ = original_delete  # type: ignore[attr-defined]
    S3Response.put_object = put_object  # type: ignore[method-assign]
    S3Response.copy_object = copy_object  # type: ignore[method-assign]
    S3Response.delete_object = delete_object  # type: ignore[method-assign]


def _patch_s3_eventbridge_configuration_read() -> None:
    """Why: moto 5.2.5 stores ``EventBridgeConfiguration`` from
    PutBucketNotificationConfiguration (and sends the events) but leaves it out
    of GetBucketNotificationConfiguration, where S3 answers
    ``<EventBridgeConfiguration/>``. The ExistingSourceBucket custom resource
    (imgflow.aws.existing_bucket) reads it to know what to restore on delete.
    """
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification
    if getattr(original, "_imgflow_eventbridge", False):
        return

    def get_bucket_notification(self: Any) -> Any:
        status, headers, body = original(self)
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config is None or config.event_bridge is None or not isinstance(body, str):
            return status, headers, body
        element = "<EventBridgeConfiguration></EventBridgeConfiguration>"
        closing = re.search(r"</[A-Za-z]+>\s*$", body)
        if closing:
            body = body[: closing.start()] + element + body[closing.start() :]
        else:  # an empty root element, <Root xmlns="..."/>
            body = re.sub(r"<(\w+)([^>]*)/>\s*$", rf"<\1\2>{element}</\1>", body)
        return status, headers, body

    get_bucket_notification._imgflow_eventbridge = True  # type: ignore[attr-defined]
    get_bucket_notification.__wrapped__ = original  # type: ignore[attr-defined]
    S3Response.get_bucket_notification = get_bucket_notification  # type: ignore[method-assign]


# ---------------------------------------------------------------------------
# 7. ASL parsing: one definition at a time
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
# 8. Step Functions -> Step Functions (startExecution.sync:2): parameter and result casing
# ---------------------------------------------------------------------------


@functools.cache
def _sfn_shape(operation: str, direction: str) -> Any:
    """botocore's input or output shape of a Step Functions operation ("start_execution")."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("stepfunctions")
    name = "".join(part.title() for part in operation.split("_"))
    shape = model.operation_model(name)
    return shape.input_shape if direction == "input" else shape.output_shape


def _patch_sfn_integration_casing() -> None:
    """Why: moto 5.2.5 left ``_normalise_parameters`` and ``_normalise_response`` of
    its service integrations as no-ops (LocalStack, whence the interpreter came,
    maps them through botocore's shapes). A ``states:startExecution`` Task then
    hands boto3 ``StateMachineArn`` (botocore wants ``stateMachineArn``: the task
    fails ``States.Runtime`` with ``'StateMachineArn'``), and its result keeps
    boto3's ``executionArn`` where AWS answers ``ExecutionArn`` (which the
    ``.sync`` resolver itself reads). The backfill starts every image's
    execution this way. Only the Step Functions integration is patched.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (  # noqa: E501
        StateTaskServiceSfn,
    )

    if getattr(StateTaskServiceSfn._normalise_parameters, "_imgflow_cased", False):
        return
    original_parameters = StateTaskServiceSfn._normalise_parameters

    def _normalise_parameters(
        self: Any,
        parameters: dict,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original_parameters(self, parameters, boto_service_name, service_action_name)
        action = self._get_boto_service_action(service_action_name)
        members = {m.lower(): m for m in _sfn_shape(action, "input").members}
        for key in list(parameters):
            boto_key = members.get(key.lower())
            if boto_key is not None and boto_key != key:
                parameters[boto_key] = parameters.pop(key)

    def _normalise_response(
        self: Any,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        action = self._get_boto_service_action(service_action_name)
        # Shape-aware: Input and Output (JSON the workflow wrote) keep their own keys.
        self._from_boto_response(response, _sfn_shape(action, "output"))

    _normalise_parameters._imgflow_cased = True  # type: ignore[attr-defined]
    _normalise_parameters.__wrapped__ = original_parameters  # type: ignore[attr-defined]
    _normalise_response.__wrapped__ = StateTaskServiceSfn._normalise_response  # type: ignore[attr-defined]
    StateTaskServiceSfn._normalise_parameters = _normalise_parameters  # type: ignore[method-assign]
    StateTaskServiceSfn._normalise_response = _normalise_response  # type: ignore[method-assign]


# ---------------------------------------------------------------------------
# 9. .sync tasks: how often the interpreter asks whether the child ended
# ---------------------------------------------------------------------------

#: Seconds between a .sync task's DescribeExecution polls (moto: 0.5).
SYNC_POLL_SECONDS = 0.1


def _patch_sync_poll_interval() -> None:
    """Why: a ``.sync`` Task polls its child every 0.5 s, a floor under every image
    of a backfill (2,500 images 4 at once: 2.5 minutes of waiting alone). AWS
    learns of the end through an EventBridge rule, within about a second. 0.1 s:
    each poll is a DescribeExecution through botocore, about 2 ms of CPU here,
    and at 0.02 s the polls took 7% of a backfill's CPU.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback,
    )

    state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK = SYNC_POLL_SECONDS


# ---------------------------------------------------------------------------
# 10. Distributed Map ItemReader: every ListObjectsV2 page
# ---------------------------------------------------------------------------

#: Keys per ListObjectsV2 page the ItemReader asks for (None: S3's 1,000). Tests
#: lower it to cross page boundaries with few objects.
item_reader_page_size: int | None = None


def _patch_item_reader_paging() -> None:
    """Why: moto 5.2.5's ItemReader calls ListObjectsV2 once and reads
    ``response["Contents"]``: a prefix of more than 1,000 objects loses all but
    the first page, and an empty one raises KeyError. AWS's ItemReader lists
    every page (ContinuationToken) and an empty listing is zero items. The
    backfill lists the whole source bucket this way.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3 import (  # noqa: E501
        ResourceEvalS3,
    )

    original = ResourceEvalS3._handle_list_objects_v2
    if getattr(original, "_imgflow_paged", False):
        return

    def _handle_list_objects_v2(
        env: Any, resource_runtime_part: Any, state_credentials: Any
    ) -> None:
        s3_client = ResourceEvalS3._get_s3_client(
            resource_runtime_part=resource_runtime_part, state_credentials=state_credentials
        )
        parameters = dict(env.stack.pop())
        if item_reader_page_size is not None:
            parameters.setdefault("MaxKeys", item_reader_page_size)
        contents: list[Any] = []
        while True:
            response = s3_client.list_objects_v2(**parameters)
            contents.extend(response.get("Contents", []))
            if not response.get("IsTruncated"):
                break
            parameters["ContinuationToken"] = response["NextContinuationToken"]
        env.stack.append(contents)

    _handle_list_objects_v2._imgflow_paged = True  # type: ignore[attr-defined]
    _handle_list_objects_v2.__wrapped__ = original  # type: ignore[attr-defined]
    ResourceEvalS3._handle_list_objects_v2 = staticmethod(_handle_list_objects_v2)  # type: ignore[method-assign]


def _item_reader_failed(env: Any, cause: str) -> Exception:
    """States.ItemReaderFailed, as AWS ends a Distributed Map that cannot read its items."""
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    error_name = StatesErrorName(typ=StatesErrorNameType.StatesItemReaderFailed)
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(
                mapRunFailedEventDetails=MapRunFailedEventDetails(
                    error=error_name.error_name, cause=cause
                )
            ),
        )
    )


def _inventory_items(s3_client: Any, manifest_text: str, max_items: int) -> list[dict[str, str]]:
    """The rows of an S3 Inventory, as AWS's MANIFEST reader yields them: one dict per
    row of every CSV data file, named by the manifest's fileSchema. Raises ValueError
    with the reason when the manifest is not one it can read."""
    from imgflow.manifests import InventoryManifest, csv_rows

    manifest = InventoryManifest.parse(manifest_text)
    items: list[dict[str, str]] = []
    for key in manifest.files:
        body = s3_client.get_object(Bucket=manifest.bucket, Key=key)["Body"].read()
        for row in csv_rows(body, manifest.fields, f"s3://{manifest.bucket}/{key}"):
            if len(items) >= max_items:
                return items
            items.append(row)
    return items


def _patch_item_reader_manifest() -> None:
    """Why: moto 5.2.5's ItemReader knows InputType CSV and JSON only (its enum says
    "TODO: add support for MANIFEST"), so a definition reading an S3 Inventory does
    not even parse; and an ItemReader whose getObject fails (no such manifest or
    list) raised the client's error where AWS fails the map with
    ``States.ItemReaderFailed``. AWS's MANIFEST reader reads manifest.json, then each
    CSV data file it names, one item per row with the fileSchema's field names (all
    strings, the key URL-encoded as S3 Inventory writes it).
    """
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader import (
        item_reader_decl,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3 import (  # noqa: E501
        ResourceEvalS3,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_output_transformer.transformer import (  # noqa: E501
        ResourceOutputTransformer,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.reader_config.input_type import (  # noqa: E501
        InputType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import (
        StateCredentials,
    )
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    if getattr(InputType.__init__, "_imgflow_manifest", False):
        return
    original_init = InputType.__init__
    original_factory = item_reader_decl.resource_output_transformer_for
    original_get_object = ResourceEvalS3._handle_get_object

    def __init__(self: Any, input_type: str) -> None:
        if input_type == "MANIFEST":
            self.input_type_value = "MANIFEST"
        else:
            original_init(self, input_type)

    class ManifestTransformer(ResourceOutputTransformer):
        def _eval_body(self, env: Any) -> None:
            reader_config = env.stack.pop()
            manifest_text = env.stack.pop()
            s3_client = boto_client_for(
                region=env.aws_execution_details.region,
                service="s3",
                state_credentials=StateCredentials(role_arn=env.aws_execution_details.role_arn),
            )
            try:
                items = _inventory_items(s3_client, manifest_text, reader_config["MaxItemsValue"])
            except (ValueError, ClientError) as exc:
                raise _item_reader_failed(env, str(exc)) from exc
            env.stack.append(items)

    def resource_output_transformer_for(input_type: Any) -> Any:
        if input_type.input_type_value == "MANIFEST":
            return ManifestTransformer()
        return original_factory(input_type)

    def _handle_get_object(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        parameters = dict(env.stack[-1])
        try:
            original_get_object(env, resource_runtime_part, state_credentials)
        except ClientError as exc:
            where = f"s3://{parameters.get('Bucket')}/{parameters.get('Key')}"
            raise _item_reader_failed(env, f"{where}: {exc}") from exc

    __init__._imgflow_manifest = True  # type: ignore[attr-defined]
    InputType.__init__ = __init__  # type: ignore[method-assign]
    item_reader_decl.resource_output_transformer_for = resource_output_transformer_for
    ResourceEvalS3._handle_get_object = staticmethod(_handle_get_object)  # type: ignore[method-assign]


# ---------------------------------------------------------------------------
# 11. Distributed Map workers: a loop, not a recursion per item
# ---------------------------------------------------------------------------


def _patch_map_worker_loop() -> None:
    """Why: moto 5.2.5's Distributed Map worker takes its next item by calling
    itself (``_eval_pool`` recursing once per item), so a worker that processes
    more than about 900 items dies with RecursionError: a backfill of 2,500
    objects at MaxConcurrency 2 failed that way. The same steps, in a loop.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501
        DistributedItemProcessorWorker,
    )

    original = DistributedItemProcessorWorker._eval_pool
    if getattr(original, "_imgflow_loop", False):
        return

    def _eval_pool(self: Any, job: Any, worker_frame: Any) -> None:
        while True:
            if job is None:
                self._env.delete_frame(worker_frame)
                return
            job_frame = worker_frame.open_inner_frame()
            self._eval_job(env=job_frame, job=job)
            worker_frame.delete_frame(job_frame)
            if isinstance(job.job_output, Exception) or self.stopped():
                self._env.delete_frame(worker_frame)
                self._job_pool.close_job(job)
                return
            next_job = self._job_pool.next_job()
            if next_job is None:
                # Close the frame before the job: the map awaits jobs, not workers.
                self._env.delete_frame(worker_frame)
                self._job_pool.close_job(job)
                return
            self._job_pool.close_job(job)
            job = next_job

    _eval_pool._imgflow_loop = True  # type: ignore[attr-defined]
    _eval_pool.__wrapped__ = original  # type: ignore[attr-defined]
    DistributedItemProcessorWorker._eval_pool = _eval_pool  # type: ignore[method-assign]


# ---------------------------------------------------------------------------
# 12. ListMapRuns / DescribeMapRun while executions start
# ---------------------------------------------------------------------------


def _env_of(execution: Any) -> Any:
    worker = getattr(execution, "exec_worker", None)
    return getattr(worker, "env", None)


def _patch_map_run_reads() -> None:
    """Why: moto 5.2.5 reads every execution's interpreter environment to answer
    ListMapRuns and DescribeMapRun, and raises AttributeError for an execution
    whose environment does not exist yet (just started) or any more: `imgflow
    backfill --wait` asks right after StartExecution, where AWS answers an empty
    list. Executions without an environment have no map runs.
    """
    from moto.stepfunctions.parser.models import ResourceNotFound, StepFunctionsParserBackend

    original_list = StepFunctionsParserBackend.list_map_runs
    if getattr(original_list, "_imgflow_guarded", False):
        return
    original_describe = StepFunctionsParserBackend.describe_map_run

    def list_map_runs(self: Any, execution_arn: str) -> dict[str, Any]:
        env = _env_of(self.describe_execution(execution_arn=execution_arn))
        if env is None:
            return {"mapRuns": []}
        return {"mapRuns": [r.list_item() for r in env.map_run_record_pool_manager.get_all()]}

    def describe_map_run(self: Any, map_run_arn: str) -> dict[str, Any]:
        for execution in self._get_executions():
            env = _env_of(execution)
            record = env.map_run_record_pool_manager.get(map_run_arn) if env else None
            if record is not None:
                return record.describe()
        raise ResourceNotFound(f"Map Run {map_run_arn} does not exist")

    list_map_runs._imgflow_guarded = True  # type: ignore[attr-defined]
    list_map_runs.__wrapped__ = original_list  # type: ignore[attr-defined]
    describe_map_run.__wrapped__ = original_describe  # type: ignore[attr-defined]
    StepFunctionsParserBackend.list_map_runs = list_map_runs  # type: ignore[method-assign]
    StepFunctionsParserBackend.describe_map_run = describe_map_run  # type: ignore[method-assign]


# ---------------------------------------------------------------------------
# 13. A Distributed Map's items: no history kept that nothing reads
# ---------------------------------------------------------------------------


def _patch_map_run_history() -> None:
    """Why: moto 5.2.5 records the events of every item of a Distributed Map (each
    item's Choice, Task and its result: the child's whole description) in one
    event list per map run, which no API returns and nothing frees until the
    run ends: a local backfill's process grew by about 9 MB per 1,000 images.
    On AWS each item is a child execution with its own history; imgflow saves
    the image workflow's histories, which are separate executions. The map
    run's events still get their ids; they are no longer kept.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as module,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    if getattr(module.EventManager, "_imgflow_unkept", False):
        return

    class MapRunEventManager(EventManager):
        _imgflow_unkept = True

        def _publish_history_event(self, *args: Any, **kwargs: Any) -> None:
            return None

    MapRunEventManager.__wrapped__ = EventManager  # type: ignore[attr-defined]
    module.EventManager = MapRunEventManager  # type: ignore[misc]


# ---------------------------------------------------------------------------
# 14. ListExecutions while another thread starts one
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
