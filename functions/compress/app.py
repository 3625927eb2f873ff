"""CompressImage: optimise the image and stage the result. (thin handler)"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgflow.aws.parser import parsed_event
from imgflow.aws.s3 import S3ObjectStore
from imgflow.aws.telemetry import CORRELATION_ID_PATH, logger, metrics, tracer
from imgflow.contract import CompressInput
from imgflow.settings import CompressSettings
from imgflow.steps.compress import compress_image

SETTINGS = CompressSettings.from_env()
STORE = S3ObjectStore()


@logger.inject_lambda_context(log_event=True, correlation_id_path=CORRELATION_ID_PATH)
@tracer.capture_lambda_handler
@metrics.log_metrics
@parsed_event(model=CompressInput)
def handler(event: CompressInput, context: LambdaContext) -> dict[str, Any]:
    """Input: CompressInput; output: Compression."""
    compression = compress_image(event.source, event.image, SETTINGS, STORE)
    payload = compression.model_dump(mode="json")
    logger.info("compressed", extra=payload)
    return payload
