"""QuarantineOriginal: keep the failed original, untouched, with the reason. (thin handler)"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgflow.aws.s3 import S3ObjectStore
from imgflow.aws.telemetry import CORRELATION_ID_PATH, logger, metrics, record_outcome, tracer
from imgflow.contract import failure_outcome, validated_format
from imgflow.settings import Settings
from imgflow.steps.quarantine import quarantine

SETTINGS = Settings.from_env()
SETTINGS.require("failed_bucket")
STORE = S3ObjectStore()


@logger.inject_lambda_context(log_event=True, correlation_id_path=CORRELATION_ID_PATH)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    """Input: {"state": <state data with "error">, "execution": arn}; output: Quarantined."""
    result = quarantine(event["state"], event.get("execution"), SETTINGS, STORE)
    record_outcome(failure_outcome(result.error.type), validated_format(event["state"]))
    metrics.add_metadata(key="error_type", value=result.error.type)
    quarantined = result.model_dump(mode="json")
    logger.warning("quarantined", extra=quarantined)
    return quarantined
