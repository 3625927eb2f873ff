"""Lambda: run registered Python handlers in-process, no Docker."""

from __future__ import annotations

import json
import uuid
from typing import Any

from imgflow_toolkit.local.context import lambda_context
from imgflow_toolkit.local.moto_patches.handlers import LambdaServiceFault, _handlers
from imgflow_toolkit.local.workers import (
    FunctionError,
    marshal_error_payload,
    runtime_error_payload,
)


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
