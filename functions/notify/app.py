"""Notify: publish one success or failure message. (thin handler)"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgflow.aws.parser import parsed_event
from imgflow.aws.sns import SnsPublisher
from imgflow.aws.telemetry import CORRELATION_ID_PATH, logger, metrics, tracer
from imgflow.contract import Notified, NotifyInput
from imgflow.settings import NotifySettings
from imgflow.steps.notify import (
    already_reported,
    attributes,
    human_text,
    json_body,
    notification_for,
    subject,
)

SETTINGS = NotifySettings.from_env()
PUBLISHER = SnsPublisher(SETTINGS.topic_arn)


@logger.inject_lambda_context(log_event=True, correlation_id_path=CORRELATION_ID_PATH)
@tracer.capture_lambda_handler
@metrics.log_metrics
@parsed_event(model=NotifyInput)
def handler(event: NotifyInput, context: LambdaContext) -> dict[str, Any]:
    """Input: NotifyInput (status and state data); output: Notified."""
    note = notification_for(event.status, event.state, event.execution)
    message_id = None
    if not already_reported(event.status, event.state):
        message_id = PUBLISHER.publish(
            subject(note), human_text(note), json_body(note), attributes(note)
        )
    notified = Notified(message_id=message_id, status=note.status, outcome=note.outcome)
    return notified.model_dump(mode="json")
