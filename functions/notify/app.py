"""Notify: publish one success or failure message. (thin handler)"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgflow.aws.sns import SnsPublisher
from imgflow.aws.telemetry import CORRELATION_ID_PATH, logger, metrics, tracer
from imgflow.contract import Status
from imgflow.settings import Settings
from imgflow.steps.notify import (
    already_reported,
    attributes,
    human_text,
    json_body,
    notification_for,
    subject,
)

SETTINGS = Settings.from_env()
SETTINGS.require("topic_arn")
PUBLISHER = SnsPublisher(SETTINGS.topic_arn)


@logger.inject_lambda_context(log_event=True, correlation_id_path=CORRELATION_ID_PATH)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    """Input: {"status": SUCCEEDED|FAILED, "state": <state data>, "execution": arn}."""
    status = Status(event["status"])
    note = notification_for(status, event["state"], event.get("execution"))
    if already_reported(status, event["state"]):
        return {"message_id": None, "status": note.status, "outcome": note.outcome}
    message_id = PUBLISHER.publish(
        subject(note), human_text(note), json_body(note), attributes(note)
    )
    return {"message_id": message_id, "status": note.status, "outcome": note.outcome}
