"""QuarantineOriginal: keep the failed original, untouched, with the reason. (thin handler)"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgflow.aws.parser import parsed_event
from imgflow.aws.s3 import S3ObjectStore
from imgflow.aws.telemetry import CORRELATION_ID_PATH, logger, metrics, record_outcome, tracer
from imgflow.contract import QuarantineInput, failure_outcome
from imgflow.settings import QuarantineSettings
from imgflow.steps.quarantine import quarantine

SETTINGS = QuarantineSettings.from_env()
STORE = S3ObjectStore()


@logger.inject_lambda_context(log_event=True, correlation_id_path=CORRELATION_ID_PATH)
@tracer.capture_lambda_handler
@metrics.log_metrics
@parsed_event(model=QuarantineInput)
def handler(event: QuarantineInput, context: LambdaContext) -> dict[str, Any]:
    """Input: QuarantineInput (the state data with "error"); output: Quarantined."""
    result = quarantine(event.state, event.execution, SETTINGS, STORE)
    record_outcome(failure_outcome(result.error.type), event.state.validated_format)
    metrics.add_metadata(key="error_type", value=result.error.type)
    payload = result.model_dump(mode="json")
    logger.warning("quarantined", extra=payload)
    return payload
