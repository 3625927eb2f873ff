"""QuarantineOriginal: keep the failed original, untouched, with the reason. (thin handler)"""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from imgflow.aws.s3 import S3ObjectStore
from imgflow.aws.telemetry import logger, metrics, tracer
from imgflow.settings import Settings
from imgflow.steps.quarantine import quarantine

SETTINGS = Settings.from_env()
SETTINGS.require("failed_bucket")
STORE = S3ObjectStore()


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    """Input: {"state": <state data with "error">, "execution": arn}; output: Quarantined."""
    result = quarantine(event["state"], event.get("execution"), SETTINGS, STORE)
    metrics.add_metric(name="ImagesQuarantined", unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="error_type", value=result.error.type)
    logger.warning("quarantined", extra=result.to_dict())
    return result.to_dict()
