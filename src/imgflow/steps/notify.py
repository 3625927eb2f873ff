"""Notify: one message per finished execution, for people and for programs."""

from __future__ import annotations

import json
from typing import Any

from imgflow.contract import ErrorInfo, Notification, Outcome, Quarantined, Stored
from imgflow.errors import PERMANENT_ERRORS, InvalidEventError
from imgflow.trigger import source_from_event

_PERMANENT_NAMES = {cls.__name__ for cls in PERMANENT_ERRORS}


def notification_for(status: str, state: dict[str, Any], execution: str | None) -> Notification:
    """Summarise an execution's state data as a Notification."""
    image = (state.get("validated") or {}).get("image") or {}
    try:
        source = source_from_event(state)
        bucket, key = source.bucket, source.key
    except InvalidEventError:
        bucket, key = "", ""
    if status == "SUCCEEDED":
        stored = Stored.from_dict(state["stored"])
        return Notification(
            status=status,
            outcome=stored.outcome,
            bucket=bucket,
            key=key,
            execution=execution,
            format=image.get("format"),
            bytes_in=stored.bytes_in,
            bytes_out=stored.bytes_out,
            result=stored.result,
        )
    error = ErrorInfo.from_states_error(state.get("error") or {})
    extra: dict[str, Any] = {}
    if state.get("quarantined"):
        copy = Quarantined.from_dict(state["quarantined"]).copy
        extra["quarantined"] = copy.to_dict() if copy else None
    if state.get("quarantine_error"):
        extra["quarantine_error"] = ErrorInfo.from_states_error(state["quarantine_error"]).to_dict()
    outcome = Outcome.REJECTED if error.type in _PERMANENT_NAMES else Outcome.ERROR
    return Notification(
        status="FAILED",
        outcome=outcome,
        bucket=bucket,
        key=key,
        execution=execution,
        format=image.get("format"),
        error=error,
        extra=extra,
    )


def subject(note: Notification) -> str:
    """An SNS subject: ASCII, one line, under 100 characters."""
    name = note.key.rsplit("/", 1)[-1].encode("ascii", "replace").decode()
    text = f"imgflow {note.status.lower()}: {name}"
    return text if len(text) < 100 else text[:96] + "..."


def human_text(note: Notification) -> str:
    """The email body: what happened and what to do next."""
    where = f"s3://{note.bucket}/{note.key}"
    if note.status == "SUCCEEDED":
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
    attrs = {"status": note.status, "outcome": note.outcome}
    if note.format:
        attrs["format"] = note.format
    if note.error:
        attrs["error_type"] = note.error.type
    return attrs


def json_body(note: Notification) -> str:
    return json.dumps(note.to_dict(), sort_keys=True)
