"""StoreResult: move the staged result to its final key. (thin handler)"""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from imgflow.aws.s3 import S3ObjectStore
from imgflow.aws.telemetry import logger, metrics, tracer
from imgflow.contract import Compression
from imgflow.settings import Settings
from imgflow.steps.store import store_result

SETTINGS = Settings.from_env()
SETTINGS.require("source_bucket", "destination_bucket")
STORE = S3ObjectStore()


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    """Input: {"compressed": Compression, "execution": arn}; output: Stored."""
    compressed = Compression.from_dict(event["compressed"])
    stored = store_result(compressed, SETTINGS, STORE, event.get("execution"))
    # One metric per outcome (ImagesCompressed, ImagesKept_original, ...): no dimension
    # to carry between invocations of the shared Metrics object.
    metrics.add_metric(name=f"Images{stored.outcome.capitalize()}", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="BytesIn", unit=MetricUnit.Bytes, value=stored.bytes_in)
    metrics.add_metric(name="BytesOut", unit=MetricUnit.Bytes, value=stored.bytes_out)
    metrics.add_metric(
        name="BytesSaved", unit=MetricUnit.Bytes, value=stored.bytes_in - stored.bytes_out
    )
    return stored.to_dict()
