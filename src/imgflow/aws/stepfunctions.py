"""Step Functions on AWS, through boto3: executions, their history, redrive and start.

The client is passed in, so tests drive this with a stubbed botocore client
(moto has no RedriveExecution) and the CLI with a session's real one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

#: The statuses an execution never leaves (DescribeExecution's ``status``).
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


class ExecutionAlreadyExistsError(Exception):
    """An execution of that name exists already (names are unique for 90 days)."""


def client(region: str | None = None, profile: str | None = None) -> Any:
    """A Step Functions client for a named profile and region (defaults: the environment's)."""
    import boto3

    session = boto3.Session(profile_name=profile, region_name=region)
    return session.client("stepfunctions")


def region_of(arn: str) -> str | None:
    """The region an ARN names (arn:aws:states:REGION:...), if it is an ARN."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[0] == "arn" and parts[3] else None


def state_machine_from_stack(
    stack_name: str, region: str | None = None, profile: str | None = None
) -> str:
    """The StateMachineArn output of a deployed imgflow stack."""
    import boto3

    session = boto3.Session(profile_name=profile, region_name=region)
    stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    for output in stacks[0].get("Outputs", []):
        if output["OutputKey"] == "StateMachineArn":
            return output["OutputValue"]
    raise LookupError(f"stack {stack_name} has no StateMachineArn output")


class StepFunctions:
    """The calls imgflow graph and imgflow replay make, on one client."""

    def __init__(self, sfn: Any) -> None:
        self.sfn = sfn

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """Every event of an execution, oldest first."""
        events: list[dict[str, Any]] = []
        args: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = self.sfn.get_execution_history(**args)
            events += page["events"]
            if not page.get("nextToken"):
                return events
            args["nextToken"] = page["nextToken"]

    def definition_for_execution(self, execution_arn: str) -> str:
        """The ASL the execution ran (the version it started with)."""
        return self.sfn.describe_state_machine_for_execution(executionArn=execution_arn)[
            "definition"
        ]

    def describe(self, execution_arn: str) -> dict[str, Any]:
        return self.sfn.describe_execution(executionArn=execution_arn)

    def state_machine_type(self, state_machine_arn: str) -> str:
        return self.sfn.describe_state_machine(stateMachineArn=state_machine_arn)["type"]

    def failed_executions(self, state_machine_arn: str, since: datetime) -> list[dict[str, Any]]:
        """FAILED executions that started at or after ``since``, newest first."""
        found: list[dict[str, Any]] = []
        args: dict[str, Any] = {
            "stateMachineArn": state_machine_arn,
            "statusFilter": "FAILED",
            "maxResults": 100,
        }
        while True:
            page = self.sfn.list_executions(**args)
            for execution in page["executions"]:
                # Listed newest first: the first one before the window ends the search.
                if execution["startDate"] < since:
                    return found
                found.append(execution)
            if not page.get("nextToken"):
                return found
            args["nextToken"] = page["nextToken"]

    def redrive(self, execution_arn: str) -> None:
        self.sfn.redrive_execution(executionArn=execution_arn)

    def start(self, state_machine_arn: str, name: str, payload: str) -> str:
        """Start a named execution; raise ExecutionAlreadyExistsError if the name is taken."""
        try:
            response = self.sfn.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=payload
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                raise ExecutionAlreadyExistsError(name) from exc
            raise
        return response["executionArn"]
