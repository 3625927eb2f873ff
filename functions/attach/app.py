"""SourceBucketAttachment: EventBridge on an existing source bucket. (thin handler)

The CloudFormation custom resource behind ExistingSourceBucket: every request
is answered (FAILED with the reason on any error, before the timeout), so a
deployment never waits an hour for a provider that broke.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgflow.aws.cfn_response import answer
from imgflow.aws.existing_bucket import handle_request
from imgflow.aws.telemetry import logger, metrics


# The event is not logged: its ResponseURL is a pre-signed URL that answers for the stack.
# Not per execution: its correlation id is the CloudFormation request's.
@logger.inject_lambda_context(correlation_id_path="RequestId")
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: a custom resource request; output: the response body sent to CloudFormation."""
    return answer(event, context, handle_request)
