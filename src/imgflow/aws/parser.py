"""Powertools' Parser for the handlers, with the contract's error for bad input.

``@parsed_event(Model)`` hands the handler its input as ``Model`` (parsed by
Powertools' ``parse``). An event that does not fit raises InvalidEventError,
a permanent error the state machine catches without retrying, whose message
names the input model and every field at fault.
"""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.middleware_factory import lambda_handler_decorator
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from imgflow.contract import validation_faults
from imgflow.errors import InvalidEventError


def parse_input[M: BaseModel](model: type[M], event: Any) -> M:
    """``event`` as ``model``; raise InvalidEventError naming what does not fit."""
    try:
        return parse(event=event, model=model)
    except ValidationError as exc:
        faults = validation_faults(exc)
        raise InvalidEventError(f"the event is not a valid {model.__name__}: {faults}") from exc


@lambda_handler_decorator
def parsed_event(
    handler: Callable[[Any, LambdaContext], Any],
    event: Any,
    context: LambdaContext,
    model: type[BaseModel],
) -> Any:
    """Call ``handler`` with the event parsed as ``model`` (see the module docstring)."""
    return handler(parse_input(model, event), context)
