"""Step Functions -> Step Functions (``states:startExecution.sync:2``): casing and poll interval."""

from __future__ import annotations

import functools
from typing import Any

from imgflow_toolkit.local.moto_patches.clients import shared_client

#: Any region: a service model is the same in all of them.
_MODEL_REGION = "us-east-1"

# ---------------------------------------------------------------------------
# Parameter and result casing
# ---------------------------------------------------------------------------


@functools.cache
def _sfn_model() -> Any:
    """botocore's Step Functions service model: the shared client's, loaded once.

    The client the integration itself calls through (``clients.shared_client``):
    its model is parsed from the JSON that boto3's default session already holds
    for the runtime's own client. (A separate botocore session parsed and kept a
    second copy of the whole model, about 1 MB.)
    """
    return shared_client(_MODEL_REGION, "stepfunctions").meta.service_model


def _sfn_shape(operation: str, direction: str) -> Any:
    """botocore's input or output shape of a Step Functions operation ("start_execution").

    Not cached here: the service model caches its operation models and their shapes.
    """
    name = "".join(part.title() for part in operation.split("_"))
    shape = _sfn_model().operation_model(name)
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
# .sync tasks: how often the interpreter asks whether the child ended
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
