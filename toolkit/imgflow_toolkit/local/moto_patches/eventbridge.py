"""EventBridge rule -> Step Functions state machine target, and the failed deliveries."""

from __future__ import annotations

import copy
import datetime
import json
import logging
from typing import Any, NamedTuple

LOG = logging.getLogger(__name__)


class DeliveryFailure(NamedTuple):
    """An EventBridge rule could not start its target state machine."""

    rule_arn: str
    target_arn: str
    error: str
    message: str
    event: dict[str, Any]


#: Rule -> state machine deliveries that failed (cleared by ``reset()``).
eventbridge_failures: list[DeliveryFailure] = []


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
        # No name: EventBridge cannot name executions (a UUID is given by
        # stepfunctions._patch_start_execution_name).
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
