"""ValidateImage: is this upload an image we should compress? (thin handler)"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgflow.aws.parser import parsed_event
from imgflow.aws.s3 import S3ObjectStore
from imgflow.aws.telemetry import CORRELATION_ID_PATH, logger, metrics, tracer
from imgflow.contract import ValidateInput
from imgflow.settings import ValidateSettings
from imgflow.steps.validate import validate

SETTINGS = ValidateSettings.from_env()
STORE = S3ObjectStore()


@logger.inject_lambda_context(log_event=True, correlation_id_path=CORRELATION_ID_PATH)
@tracer.capture_lambda_handler
@metrics.log_metrics
@parsed_event(model=ValidateInput)
def handler(event: ValidateInput, context: LambdaContext) -> dict[str, Any]:
    """Input: ValidateInput (the triggering event, bare or wrapped); output: Validation."""
    validation = validate(event.event, SETTINGS, STORE)
    logger.info("validated", extra={"skip": validation.skip, "reason": validation.reason})
    return validation.model_dump(mode="json")
