"""StoreResult: move the staged result to its final key. (thin handler)"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgflow.aws.parser import parsed_event
from imgflow.aws.s3 import S3ObjectStore
from imgflow.aws.telemetry import CORRELATION_ID_PATH, logger, metrics, record_outcome, tracer
from imgflow.contract import StoreInput
from imgflow.settings import StoreSettings
from imgflow.steps.store import store_result

SETTINGS = StoreSettings.from_env()
STORE = S3ObjectStore()


@logger.inject_lambda_context(log_event=True, correlation_id_path=CORRELATION_ID_PATH)
@tracer.capture_lambda_handler
@metrics.log_metrics
@parsed_event(model=StoreInput)
def handler(event: StoreInput, context: LambdaContext) -> dict[str, Any]:
    """Input: StoreInput; output: Stored."""
    compressed = event.compressed
    stored = store_result(compressed, SETTINGS, STORE, event.execution)
    record_outcome(
        stored.outcome, compressed.format, bytes_in=stored.bytes_in, bytes_out=stored.bytes_out
    )
    return stored.model_dump(mode="json")
