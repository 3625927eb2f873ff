"""Answer a CloudFormation custom resource request: always, and in time.

CloudFormation waits for the answer on a pre-signed S3 URL (``ResponseURL``).
A provider that raises, times out or never PUTs leaves the stack waiting for
an hour before it gives up, so ``answer`` runs the request's work under a
deadline shorter than the function's own timeout, turns every exception and
an overrun into a FAILED answer with the reason, and PUTs the answer with the
standard library (no ``cfnresponse``, which exists only for inline ZipFile
code).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger(__name__)

#: Seconds kept back from the function's timeout to send the answer.
SEND_MARGIN_S = 5.0
#: CloudFormation rejects a response body over 4,096 bytes: long reasons are cut.
MAX_REASON_CHARS = 1_000
#: Attempts at the PUT, and the pause before each retry.
SEND_ATTEMPTS = 3
SEND_BACKOFF_S = (1.0, 2.0)


@dataclass(frozen=True)
class Outcome:
    """What a successful request produced: the resource's id and its attributes (GetAtt)."""

    physical_id: str
    data: dict[str, str] = field(default_factory=dict)


class RequestFailed(Exception):
    """A failure that names the physical id CloudFormation must keep for the resource."""

    def __init__(self, reason: str, physical_id: str | None = None) -> None:
        super().__init__(reason)
        self.physical_id = physical_id


Work = Callable[[dict[str, Any]], Outcome]
Sender = Callable[[str, dict[str, Any]], None]


def answer(
    event: dict[str, Any],
    context: Any,
    work: Work,
    *,
    send: Sender | None = None,
    deadline_s: float | None = None,
) -> dict[str, Any]:
    """Run ``work(event)`` and PUT SUCCESS or FAILED to the event's ResponseURL.

    Never raises because of ``work``: an exception, or ``work`` still running
    ``deadline_s`` seconds later (default: the function's remaining time less
    SEND_MARGIN_S), is answered FAILED with its reason. Returns the body sent.
    """
    send = send or put_response
    if deadline_s is None:
        remaining_ms = context.get_remaining_time_in_millis() if context else 60_000
        deadline_s = max(remaining_ms / 1000 - SEND_MARGIN_S, 1.0)
    try:
        outcome = _within(deadline_s, work, event)
        body = response_body(event, "SUCCESS", outcome.physical_id, data=outcome.data)
    except Exception as exc:
        LOG.exception("%s %s failed", event.get("RequestType"), event.get("LogicalResourceId"))
        physical_id = getattr(exc, "physical_id", None) or failed_physical_id(event)
        body = response_body(event, "FAILED", physical_id, reason=_reason(exc))
    send(event["ResponseURL"], body)
    return body


def failed_physical_id(event: dict[str, Any]) -> str:
    """The id to answer a failure with: the resource's own, or (a failed Create) a
    name its later Delete recognises as nothing created."""
    return event.get("PhysicalResourceId") or f"{event['LogicalResourceId']}-not-created"


def response_body(
    event: dict[str, Any],
    status: str,
    physical_id: str,
    *,
    reason: str | None = None,
    data: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON body CloudFormation expects on the ResponseURL."""
    body: dict[str, Any] = {
        "Status": status,
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": data or {},
    }
    if reason:
        body["Reason"] = reason[:MAX_REASON_CHARS]
    return body


def put_response(url: str, body: dict[str, Any], *, attempts: int = SEND_ATTEMPTS) -> None:
    """PUT ``body`` to the pre-signed URL, retrying network and 5xx errors."""
    payload = json.dumps(body).encode()
    for attempt in range(attempts):
        # The URL is signed without a content type: send an empty one, as cfnresponse does.
        request = urllib.request.Request(
            url,
            data=payload,
            method="PUT",
            headers={"Content-Type": "", "Content-Length": str(len(payload))},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
                return
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == attempts - 1:
                raise
        except OSError:
            if attempt == attempts - 1:
                raise
        time.sleep(SEND_BACKOFF_S[min(attempt, len(SEND_BACKOFF_S) - 1)])


def _within(deadline_s: float, work: Work, event: dict[str, Any]) -> Outcome:
    """``work(event)`` in a daemon thread; TimeoutError if it outlasts the deadline."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["outcome"] = work(event)
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=run, name="custom-resource", daemon=True)
    thread.start()
    thread.join(deadline_s)
    if thread.is_alive():
        raise TimeoutError(
            f"{event.get('RequestType')} did not finish within {deadline_s:.0f} s "
            "(an AWS call hung?); answered FAILED rather than leave the stack waiting"
        )
    if "error" in result:
        raise result["error"]
    return result["outcome"]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RequestFailed):
        return str(exc)  # already worded for the stack's events
    return f"{type(exc).__name__}: {exc}"
