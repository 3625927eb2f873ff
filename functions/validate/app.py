"""ValidateImage: is this upload an image we should compress? (thin handler)"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgflow.aws.s3 import S3ObjectStore
from imgflow.aws.telemetry import logger, tracer
from imgflow.settings import Settings
from imgflow.steps.validate import validate

SETTINGS = Settings.from_env()
SETTINGS.require("source_bucket", "destination_bucket")
STORE = S3ObjectStore()


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    """Accepts an EventBridge 'Object Created' event or a classic S3 notification."""
    validation = validate(event, SETTINGS, STORE)
    logger.info("validated", extra={"skip": validation.skip, "reason": validation.reason})
    return validation.to_dict()
