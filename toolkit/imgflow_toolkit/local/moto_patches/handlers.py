"""The in-process Lambda handlers moto runs, by function name, and the fault they may raise.

``register_handler(name, invoke)`` makes every Invoke of ``name`` run
``invoke(event, context)`` (``awslambda`` patches moto to do so);
``LambdaServiceFault`` raised from a handler fails the Lambda *service*.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from imgflow_toolkit.local.context import LambdaContext


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
