"""Powertools Logger, Metrics and Tracer, configured by the environment the template sets,
and the one place that names imgflow's metrics.

Every handler logs with the execution as correlation id (the state machine
passes ``$$.Execution.Id`` as ``execution`` in every function's input) and
publishes its metrics with ``@metrics.log_metrics``.

One metric name per concept; what varies is a dimension. Each metric is
published under three dimension sets: ``service`` alone (the totals),
``service`` + ``outcome`` and ``service`` + ``format``. Dimensions added
during an invocation are cleared when log_metrics flushes at its end, so an
invocation never inherits the previous one's outcome or format.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from imgflow.contract import Outcome

logger = Logger()
metrics = Metrics()
tracer = Tracer()

#: Where every function's input carries the execution ARN (Logger's correlation id).
CORRELATION_ID_PATH = "execution"

#: Images by outcome, from StoreResult and QuarantineOriginal. Uploads that
#: ValidateImage skips are executions, not images (in place, every replacement
#: starts one that skips itself): they show among succeeded executions only.
IMAGES = "Images"
#: Bytes of the images a result was stored for (compressed or kept original).
BYTES_IN = "BytesIn"
BYTES_OUT = "BytesOut"
BYTES_SAVED = "BytesSaved"
METRIC_NAMES = (IMAGES, BYTES_IN, BYTES_OUT, BYTES_SAVED)
#: The dimension sets each metric is published under.
DIMENSION_SETS = (("service",), ("service", "outcome"), ("service", "format"))

# A stored result's bytes count once: a skipped store wrote nothing (the
# execution that won wrote the same result and counted it).
_STORED = {Outcome.COMPRESSED, Outcome.KEPT_ORIGINAL}


def record_outcome(
    outcome: str,
    image_format: str | None,
    *,
    bytes_in: int | None = None,
    bytes_out: int | None = None,
) -> None:
    """Count one execution's outcome (and the bytes of a stored result) in this invocation."""
    # No service name (a local run without the template's environment): no service dimension.
    service = {"service": metrics.service} if metrics.service else {}
    metrics.add_dimensions(**service, outcome=str(outcome))
    if image_format:
        # Unknown when the image failed before validation read it.
        metrics.add_dimensions(**service, format=image_format)
    metrics.add_metric(name=IMAGES, unit=MetricUnit.Count, value=1)
    if outcome in _STORED and bytes_in is not None and bytes_out is not None:
        metrics.add_metric(name=BYTES_IN, unit=MetricUnit.Bytes, value=bytes_in)
        metrics.add_metric(name=BYTES_OUT, unit=MetricUnit.Bytes, value=bytes_out)
        metrics.add_metric(name=BYTES_SAVED, unit=MetricUnit.Bytes, value=bytes_in - bytes_out)
