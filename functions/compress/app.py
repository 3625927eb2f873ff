"""CompressImage: optimise the image and stage the result. (thin handler)"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgflow.aws.s3 import S3ObjectStore
from imgflow.aws.telemetry import CORRELATION_ID_PATH, logger, metrics, tracer
from imgflow.contract import ImageInfo, ObjectRef
from imgflow.settings import Settings
from imgflow.steps.compress import compress_image

SETTINGS = Settings.from_env()
SETTINGS.require("destination_bucket")
STORE = S3ObjectStore()


@logger.inject_lambda_context(log_event=True, correlation_id_path=CORRELATION_ID_PATH)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    """Input: {"source": ObjectRef, "image": ImageInfo, "execution": arn}; output: Compression."""
    source = ObjectRef.model_validate(event["source"])
    image = ImageInfo.model_validate(event["image"])
    compression = compress_image(source, image, SETTINGS, STORE).model_dump(mode="json")
    logger.info("compressed", extra=compression)
    return compression
