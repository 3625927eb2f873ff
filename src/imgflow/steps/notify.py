"""Notify: one message per finished execution, for people and for programs."""

from __future__ import annotations

import json
from typing import Any

from imgflow.contract import (
    ErrorInfo,
    Notification,
    State,
    StatesError,
    Status,
    failure_outcome,
)
from imgflow.errors import InvalidEventError
from imgflow.trigger import source_of


def already_reported(status: Status, state: State) -> bool:
    """True for a failure another execution of the same upload already reported.

    (A duplicate success never gets here: it ends Skipped before notifying.)
    """
    return status is Status.FAILED and bool(state.quarantined and state.quarantined.duplicate)


def notification_for(status: Status, state: State, execution: str | None) -> Notification:
    """Summarise an execution's state data as a Notification."""
    try:
        source = source_of(state)
        bucket, key = source.bucket, source.key
    except InvalidEventError:
        bucket, key = "", ""
    if status is Status.SUCCEEDED:
        stored = state.stored
        if stored is None:
            raise InvalidEventError("a SUCCEEDED notification needs the state's 'stored' result")
        return Notification(
            status=status,
            outcome=stored.outcome,
            bucket=bucket,
            key=key,
            execution=execution,
            format=state.validated_format,
            bytes_in=stored.bytes_in,
            bytes_out=stored.bytes_out,
            result=stored.result,
        )
    error = with_advice((state.error or StatesError()).info())
    extra: dict[str, Any] = {}
    if state.quarantined:
        copy = state.quarantined.copied
        extra["quarantined"] = copy.model_dump(mode="json") if copy else None
    if state.quarantine_error:
        extra["quarantine_error"] = state.quarantine_error.info().model_dump(mode="json")
    return Notification(
        status=Status.FAILED,
        outcome=failure_outcome(error.type),
        bucket=bucket,
        key=key,
        execution=execution,
        format=state.validated_format,
        error=error,
        extra=extra,
    )


# What to do about failures that are not the image's fault: the Lambda service
# or a dependency kept failing through every retry (their messages come from
# AWS and say what broke, not what to do).
_ADVICE = {
    "TransientError": "it persisted through every retry; upload the image again once the "
    "service recovers",
    "Sandbox.Timedout": "the function timed out on every attempt; raise its Timeout or "
    "MemorySize (or upload a smaller image), then upload the image again",
    "States.Timeout": "the step timed out on every attempt; raise its Timeout, then upload "
    "the image again",
    "Runtime.ExitError": "the function's runtime crashed on every attempt (often out of "
    "memory on a large image); raise its MemorySize, then upload the image again",
    "Runtime.OutOfMemory": "the function ran out of memory; raise its MemorySize or lower "
    "MaxImagePixels, then upload the image again",
}
_LAMBDA_ADVICE = "the Lambda service kept failing; upload the image again once it recovers"


def with_advice(error: ErrorInfo) -> ErrorInfo:
    """The error with what to do next, for failures that are not the image's fault."""
    advice = _ADVICE.get(error.type)
    if advice is None and error.type.startswith("Lambda."):
        advice = _LAMBDA_ADVICE
    if advice is None:
        return error
    message = f"{error.message}; {advice}" if error.message else advice
    return ErrorInfo(type=error.type, message=message)


def subject(note: Notification) -> str:
    """An SNS subject: ASCII, one line, under 100 characters."""
    name = note.key.rsplit("/", 1)[-1].encode("ascii", "replace").decode()
    text = f"imgflow {note.status.lower()}: {name}"
    return text if len(text) < 100 else text[:96] + "..."


def human_text(note: Notification) -> str:
    """The email body: what happened and what to do next."""
    where = f"s3://{note.bucket}/{note.key}"
    if note.status is Status.SUCCEEDED:
        saved = (note.bytes_in or 0) - (note.bytes_out or 0)
        pct = 100.0 * saved / note.bytes_in if note.bytes_in else 0.0
        lines = [
            f"{where}: {note.outcome}",
            f"{note.bytes_in:,} -> {note.bytes_out:,} bytes ({pct:.1f}% saved)",
        ]
        if note.result:
            lines.append(f"result: s3://{note.result.bucket}/{note.result.key}")
    else:
        error = note.error or ErrorInfo(type="Unknown", message="")
        lines = [f"{where} failed: {error.type}", error.message]
        copy = note.extra.get("quarantined")
        if copy:
            lines.append(f"original kept at s3://{copy['bucket']}/{copy['key']}")
        else:
            lines.append("the original was left where it was")
    if note.execution:
        lines.append(f"execution: {note.execution}")
    return "\n".join(lines) + "\n"


def attributes(note: Notification) -> dict[str, str]:
    """SNS message attributes that subscriptions filter on (NotifyOn uses status)."""
    attrs = {"status": note.status.value, "outcome": note.outcome.value}
    if note.format:
        attrs["format"] = note.format
    if note.error:
        attrs["error_type"] = note.error.type
    return attrs


def json_body(note: Notification) -> str:
    """The message for programs: the Notification as its JSON payload, keys sorted."""
    return json.dumps(note.model_dump(mode="json"), sort_keys=True)
