"""Publishing notifications to SNS: the only module that calls the SNS API."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from imgflow.errors import TransientError


class SnsPublisher:
    """Publishes one message with a human text for email and JSON for programs."""

    def __init__(self, topic_arn: str, client: Any | None = None) -> None:
        self._topic_arn = topic_arn
        self._sns = client or boto3.client("sns")

    def publish(self, subject: str, text: str, body: str, attributes: dict[str, str]) -> str:
        """Publish and return the message id."""
        message = {"default": body, "email": text, "email-json": body, "sqs": body}
        try:
            response = self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=subject,
                Message=json.dumps(message),
                MessageStructure="json",
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in attributes.items()
                },
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in ("Throttling", "ThrottledException", "InternalError") or status >= 500:
                raise TransientError(f"SNS {code or status}: {exc}") from exc
            raise
        return str(response["MessageId"])
