"""StoreResult: move the staged result to its final key. (thin handler)"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgflow.aws.s3 import S3ObjectStore
from imgflow.aws.telemetry import CORRELATION_ID_PATH, logger, metrics, record_outcome, tracer
from imgflow.contract import Compression
from imgflow.settings import Settings
from imgflow.steps.store import store_result

SETTINGS = Settings.from_env()
SETTINGS.require("source_bucket", "destination_bucket")
STORE = S3ObjectStore()


@logger.inject_lambda_context(log_event=True, correlation_id_path=CORRELATION_ID_PATH)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    """Input: {"compressed": Compression, "execution": arn}; output: Stored."""
    compressed = Compression.model_validate(event["compressed"])
    stored = store_result(compressed, SETTINGS, STORE, event.get("execution"))
    record_outcome(
        stored.outcome, compressed.format, bytes_in=stored.bytes_in, bytes_out=stored.bytes_out
    )
    return stored.model_dump(mode="json")
