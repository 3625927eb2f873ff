"""One test (at least) per moto patch in imgflow_toolkit.local.moto_patches.

Each fails if moto changes under the patch or the patch is removed. Executions run
in moto's background threads: tests wait with a bounded describe_execution poll,
never a fixed sleep, and no test reaches beyond the in-process mock.
"""

from __future__ import annotations

import gc
import io
import json
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3
import moto
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from imgflow_toolkit.cloudformation import ACCOUNT, REGION
from imgflow_toolkit.local import moto_patches
from imgflow_toolkit.local.moto_patches import (
    LambdaServiceFault,
    clients,
    item_reader,
    sfn_integration,
    wait_for_execution,
)
from imgflow_toolkit.local.moto_patches import s3 as s3_patches
from imgflow_toolkit.local.template import read_stack

REPO = Path(__file__).resolve().parents[2]
SFN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/sfn"
CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


class InvalidImageError(Exception):
    """Permanent: the ASL catches it by class name, without retrying."""


class TransientError(Exception):
    """Transient: the ASL retries it by class name."""


# --------------------------------------------------------------------------- fixtures


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("placeholder.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


class Aws:
    """boto3 clients on the mock, and a few helpers."""

    def __init__(self) -> None:
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.lam = boto3.client("lambda", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.events = boto3.client("events", region_name=REGION)
        self.sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        self.lambda_role = iam.create_role(RoleName="lambda", AssumeRolePolicyDocument="{}")[
            "Role"
        ]["Arn"]

    def function(self, name: str, handler: Any, **kwargs: Any) -> str:
        arn = self.lam.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=self.lambda_role,
            Handler="placeholder.handler",
            Code={"ZipFile": _zip()},
            **kwargs,
        )["FunctionArn"]
        moto_patches.register_handler(name, handler)
        return arn

    def state_machine(self, definition: dict[str, Any], name: str | None = None) -> str:
        return self.sfn.create_state_machine(
            name=name or f"sm-{uuid.uuid4().hex[:8]}",
            definition=json.dumps(definition),
            roleArn=SFN_ROLE,
        )["stateMachineArn"]

    def run(self, sm_arn: str, execution_input: Any = None, **kwargs: Any) -> dict[str, Any]:
        arn = self.sfn.start_execution(
            stateMachineArn=sm_arn, input=json.dumps(execution_input or {}), **kwargs
        )["executionArn"]
        return wait_for_execution(self.sfn, arn, timeout=20)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return self.sfn.get_execution_history(executionArn=execution_arn)["events"]

    def executions(self, sm_arn: str) -> list[dict[str, Any]]:
        return self.sfn.list_executions(stateMachineArn=sm_arn)["executions"]

    def wait_all(self, sm_arn: str) -> list[dict[str, Any]]:
        return [wait_for_execution(self.sfn, e["executionArn"]) for e in self.executions(sm_arn)]

    def queue(self, name: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        return url, arn


@pytest.fixture
def aws():
    moto_patches.apply()
    moto_patches.reset()
    with mock_aws(config=CONFIG):
        yield Aws()
    moto_patches.reset()


def lambda_task(function: str, **extra: Any) -> dict[str, Any]:
    """A Task state on the optimised integration, as imgflow's ASL writes them."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, "Payload.$": "$"},
        **extra,
    }


# --------------------------------------------------------------------------- version guard


def test_apply_refuses_any_other_moto_version(monkeypatch):
    monkeypatch.setattr(moto, "__version__", "5.2.4")
    with pytest.raises(RuntimeError, match=r"5\.2\.4"):
        moto_patches.apply()


def test_pinned_moto_is_the_one_installed():
    # The project pins moto; if this fails, the venv drifted from pyproject.
    assert moto.__version__ == moto_patches.MOTO_VERSION == "5.2.5"


def test_apply_is_idempotent():
    from moto.awslambda.models import LambdaFunction
    from moto.events.models import Rule
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    moto_patches.apply()
    moto_patches.apply()
    for patched in (
        LambdaFunction._invoke_lambda,
        Rule.send_to_targets,
        StepFunctionsParserBackend.start_execution,
    ):
        assert hasattr(patched, "__wrapped__")
        assert not hasattr(patched.__wrapped__, "__wrapped__"), "patched twice"


# --------------------------------------------------------------------------- 1. Lambda in-process


@pytest.mark.parametrize("use_docker", [False, True], ids=["simple-backend", "docker-backend"])
def test_registered_handler_runs_in_process_with_a_lambda_context(use_docker):
    moto_patches.apply()
    moto_patches.reset()
    seen: dict[str, Any] = {}

    def handler(event, context):
        seen.update(
            event=event,
            function_name=context.function_name,
            function_version=context.function_version,
            invoked_function_arn=context.invoked_function_arn,
            memory=context.memory_limit_in_mb,
            request_id=context.aws_request_id,
            log_group=context.log_group_name,
            log_stream=context.log_stream_name,
            remaining=context.get_remaining_time_in_millis(),
        )
        return {"doubled": event["n"] * 2}

    config = {**CONFIG, "lambda": {"use_docker": use_docker}}
    try:
        with mock_aws(config=config):
            aws = Aws()
            arn = aws.function("double", handler, MemorySize=512, Timeout=30)
            resp = aws.lam.invoke(FunctionName="double", Payload=json.dumps({"n": 21}))
            assert "FunctionError" not in resp
            assert json.loads(resp["Payload"].read()) == {"doubled": 42}
    finally:
        moto_patches.reset()
    assert seen["event"] == {"n": 21}
    assert seen["function_name"] == "double"
    assert seen["function_version"] == "$LATEST"
    assert seen["invoked_function_arn"] == arn
    assert seen["memory"] == 512
    assert uuid.UUID(seen["request_id"])
    assert seen["log_group"] == "/aws/lambda/double"
    assert "[$LATEST]" in seen["log_stream"]
    assert 0 < seen["remaining"] <= 30_000


def test_handler_exception_becomes_a_lambda_error_payload(aws):
    def handler(event, context):
        raise InvalidImageError("not an image")

    aws.function("validate", handler)
    resp = aws.lam.invoke(FunctionName="validate", Payload=b"{}")
    assert resp["FunctionError"]
    payload = json.loads(resp["Payload"].read())
    assert payload["errorType"] == "InvalidImageError"
    assert payload["errorMessage"] == "not an image"
    assert any("raise InvalidImageError" in line for line in payload["stackTrace"])


@pytest.mark.parametrize("use_docker", [False, True], ids=["simple-backend", "docker-backend"])
def test_unregistered_function_is_a_clear_error_not_docker_nor_echo(use_docker):
    moto_patches.apply()
    moto_patches.reset()
    with mock_aws(config={**CONFIG, "lambda": {"use_docker": use_docker}}):
        aws = Aws()
        aws.function("known", lambda e, c: e)
        aws.lam.create_function(
            FunctionName="forgotten",
            Runtime="python3.13",
            Role=aws.lambda_role,
            Handler="placeholder.handler",
            Code={"ZipFile": _zip()},
        )
        started = time.monotonic()
        resp = aws.lam.invoke(FunctionName="forgotten", Payload=b'{"a": 1}')
        payload = json.loads(resp["Payload"].read())
    moto_patches.reset()
    assert time.monotonic() - started < 5, "must not try Docker"
    assert resp["FunctionError"]
    assert payload["errorType"] == "HandlerNotRegistered"
    assert "'forgotten'" in payload["errorMessage"]
    assert "known" in payload["errorMessage"]


def test_catch_matches_the_handler_exception_class_name(aws):
    calls: list[dict] = []

    def validate(event, context):
        calls.append(event)
        raise InvalidImageError("truncated JPEG")

    aws.function("validate", validate)
    sm = aws.state_machine(
        {
            "StartAt": "Validate",
            "States": {
                "Validate": lambda_task(
                    "validate",
                    ResultSelector={"result.$": "$.Payload"},
                    ResultPath="$.validation",
                    Retry=[
                        # Listed first, MaxAttempts 0: never retried, even though the
                        # wider retrier below would match too.
                        {"ErrorEquals": ["InvalidImageError"], "MaxAttempts": 0},
                        {"ErrorEquals": ["States.ALL"], "MaxAttempts": 3},
                    ],
                    Catch=[
                        {
                            "ErrorEquals": ["InvalidImageError"],
                            "ResultPath": "$.error",
                            "Next": "Failed",
                        },
                        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Other"},
                    ],
                    Next="Done",
                ),
                "Failed": {
                    "Type": "Fail",
                    "ErrorPath": "$.error.Error",
                    "CausePath": "$.error.Cause",
                },
                "Other": {"Type": "Fail", "Error": "WrongCatcher"},
                "Done": {"Type": "Succeed"},
            },
        }
    )
    desc = aws.run(sm, {"key": "a.jpg"})
    assert desc["status"] == "FAILED"
    assert desc["error"] == "InvalidImageError"  # through ErrorPath
    cause = json.loads(desc["cause"])  # through CausePath: the Lambda error payload
    assert cause["errorType"] == "InvalidImageError"
    assert cause["errorMessage"] == "truncated JPEG"
    assert len(calls) == 1, "MaxAttempts 0 must stop the retry"
    assert moto_patches.retry_delays == []
    assert calls[0] == {"key": "a.jpg"}  # Payload.$: "$"


def test_retry_matches_class_name_and_records_backoff_without_sleeping(aws):
    calls: list[int] = []

    def compress(event, context):
        calls.append(1)
        if len(calls) <= 3:
            raise TransientError("S3 throttled")
        return {"bytes_saved": 10}

    aws.function("compress", compress)
    sm = aws.state_machine(
        {
            "StartAt": "Compress",
            "States": {
                "Compress": lambda_task(
                    "compress",
                    OutputPath="$.Payload",
                    Retry=[
                        {
                            "ErrorEquals": ["TransientError"],
                            "IntervalSeconds": 20,
                            "BackoffRate": 2.0,
                            "MaxDelaySeconds": 50,
                            "MaxAttempts": 3,
                        }
                    ],
                    End=True,
                )
            },
        }
    )
    started = time.monotonic()
    desc = aws.run(sm)
    elapsed = time.monotonic() - started
    assert desc["status"] == "SUCCEEDED"
    assert json.loads(desc["output"]) == {"bytes_saved": 10}
    assert len(calls) == 4
    delays = [d for d in moto_patches.retry_delays if d.execution_arn == desc["executionArn"]]
    assert [d.seconds for d in delays] == [20, 40, 50]  # 20, 20x2, min(20x4, 50)
    assert {d.state_name for d in delays} == {"Compress"}
    assert {d.error for d in delays} == {"TransientError"}
    assert [d.retry_count for d in delays] == [0, 1, 2]
    assert elapsed < 10, "the 110 s of back-off must not be slept"


def test_full_jitter_records_a_delay_within_the_interval(aws):
    calls: list[int] = []

    def flaky(event, context):
        calls.append(1)
        if len(calls) == 1:
            raise TransientError("once")
        return {}

    aws.function("flaky", flaky)
    sm = aws.state_machine(
        {
            "StartAt": "T",
            "States": {
                "T": lambda_task(
                    "flaky",
                    Retry=[
                        {
                            "ErrorEquals": ["States.ALL"],
                            "IntervalSeconds": 100,
                            "MaxAttempts": 1,
                            "JitterStrategy": "FULL",
                        }
                    ],
                    End=True,
                )
            },
        }
    )
    assert aws.run(sm)["status"] == "SUCCEEDED"
    (delay,) = moto_patches.retry_delays
    assert 0 <= delay.seconds <= 100


def test_lambda_invoke_output_is_the_invoke_response_with_payload(aws):
    aws.function("echo", lambda event, context: {"echo": event})
    sm = aws.state_machine({"StartAt": "T", "States": {"T": lambda_task("echo", End=True)}})
    desc = aws.run(sm, {"a": 1})
    out = json.loads(desc["output"])
    # Wrapped like AWS: the function's result is under "Payload" (AWS adds
    # SdkHttpMetadata/SdkResponseMetadata, which moto does not).
    assert out["Payload"] == {"echo": {"a": 1}}
    assert out["StatusCode"] == 200
    assert set(out) <= {"ExecutedVersion", "Payload", "StatusCode", "FunctionError", "LogResult"}


def test_plain_function_arn_resource_returns_the_bare_result_and_names_errors(aws):
    ok = aws.function("ok", lambda event, context: {"done": True})

    def bad(event, context):
        raise InvalidImageError("nope")

    bad_arn = aws.function("bad", bad)
    sm = aws.state_machine(
        {
            "StartAt": "Ok",
            "States": {
                "Ok": {"Type": "Task", "Resource": ok, "ResultPath": "$.ok", "Next": "Bad"},
                "Bad": {
                    "Type": "Task",
                    "Resource": bad_arn,
                    "Catch": [
                        {
                            "ErrorEquals": ["InvalidImageError"],
                            "ResultPath": "$.error",
                            "Next": "Caught",
                        }
                    ],
                    "End": True,
                },
                "Caught": {"Type": "Succeed"},
            },
        }
    )
    desc = aws.run(sm)
    assert desc["status"] == "SUCCEEDED"
    out = json.loads(desc["output"])
    assert out["ok"] == {"done": True}  # not wrapped in Payload
    assert out["error"]["Error"] == "InvalidImageError"


@pytest.mark.parametrize(
    "error",
    [
        "Lambda.ServiceException",
        "Lambda.TooManyRequestsException",
        "Lambda.Unknown",
        "Sandbox.Timedout",
    ],
)
def test_lambda_service_fault_yields_the_aws_error_name(aws, error):
    calls: list[int] = []

    def crashing(event, context):
        calls.append(1)
        if len(calls) == 1:
            raise LambdaServiceFault(error)
        return {"second": "try"}

    aws.function("crashing", crashing)
    sm = aws.state_machine(
        {
            "StartAt": "T",
            "States": {
                "T": lambda_task(
                    "crashing",
                    Retry=[{"ErrorEquals": [error], "MaxAttempts": 1, "IntervalSeconds": 2}],
                    OutputPath="$.Payload",
                    End=True,
                )
            },
        }
    )
    desc = aws.run(sm)
    assert desc["status"] == "SUCCEEDED", aws.history(desc["executionArn"])
    assert json.loads(desc["output"]) == {"second": "try"}
    failed = [e for e in aws.history(desc["executionArn"]) if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failed] == [error]
    assert [d.error for d in moto_patches.retry_delays] == [error]


def test_lambda_service_fault_is_an_api_error_for_direct_invoke(aws):
    def handler(event, context):
        raise LambdaServiceFault("Lambda.TooManyRequestsException", "Rate exceeded")

    aws.function("throttled", handler)
    lam = boto3.client(
        "lambda",
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(lam.exceptions.TooManyRequestsException) as info:
        lam.invoke(FunctionName="throttled", Payload=b"{}")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


# --------------------------------------------------------------------------- 2. unnamed executions


def test_start_execution_without_a_name_gets_a_uuid(aws):
    sm = aws.state_machine({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    first = aws.sfn.start_execution(stateMachineArn=sm)["executionArn"]
    second = aws.sfn.start_execution(stateMachineArn=sm)["executionArn"]  # no collision
    for arn in (first, second):
        desc = wait_for_execution(aws.sfn, arn)
        assert not arn.endswith(":None")
        assert desc["name"] == arn.rsplit(":", 1)[1]
        assert uuid.UUID(desc["name"])
    assert first != second


def test_named_start_keeps_its_name(aws):
    sm = aws.state_machine({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    desc = aws.run(sm, name="replay-of-abc")
    assert desc["name"] == "replay-of-abc"
    assert desc["executionArn"].endswith(":replay-of-abc")


# --------------------------------------------------------------------------- 3. S3 -> rule -> SFN


def _s3_rule(aws: Aws, sm: str, key_filters: list[Any], bucket: str = "src", **target: Any) -> None:
    aws.events.put_rule(
        Name=f"rule-{uuid.uuid4().hex[:6]}",
        EventPattern=json.dumps(
            {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": [bucket]}, "object": {"key": key_filters}},
            }
        ),
    )
    rule = aws.events.list_rules()["Rules"][-1]["Name"]
    aws.events.put_targets(
        Rule=rule,
        Targets=[
            {"Id": "sfn", "Arn": sm, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/events", **target}
        ],
    )


def _bucket(aws: Aws, name: str = "src", versioned: bool = False) -> None:
    aws.s3.create_bucket(Bucket=name)
    if versioned:
        aws.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    aws.s3.put_bucket_notification_configuration(
        Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )


PASS_SM = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


@pytest.mark.parametrize(
    ("key_filter", "matching", "not_matching"),
    [
        ({"prefix": "incoming/"}, "incoming/a.jpg", "other/a.jpg"),
        ({"anything-but": {"prefix": "staging/"}}, "incoming/a.jpg", "staging/a.jpg"),
        ({"suffix": ".jpg"}, "x/a.jpg", "x/a.txt"),
    ],
    ids=["prefix", "anything-but-prefix", "suffix"],
)
def test_s3_put_starts_exactly_one_execution_through_the_rule(
    aws, key_filter, matching, not_matching
):
    _bucket(aws)
    sm = aws.state_machine(PASS_SM)
    _s3_rule(aws, sm, [key_filter])
    aws.s3.put_object(Bucket="src", Key=not_matching, Body=b"x")
    assert aws.executions(sm) == []
    aws.s3.put_object(Bucket="src", Key=matching, Body=b"x")
    (execution,) = aws.wait_all(sm)
    assert execution["status"] == "SUCCEEDED"
    assert uuid.UUID(execution["name"]), "EventBridge starts unnamed executions"
    assert json.loads(execution["input"])["detail"]["object"]["key"] == matching
    assert moto_patches.eventbridge_failures == []


def test_s3_eventbridge_event_has_the_aws_shape(aws):
    _bucket(aws)
    sm = aws.state_machine(PASS_SM)
    _s3_rule(aws, sm, [{"prefix": "in/"}])
    key = "in/a b+c(1)/ü.jpg"
    put = aws.s3.put_object(Bucket="src", Key=key, Body=b"12345")
    aws.s3.put_object(Bucket="src", Key="in/second.jpg", Body=b"1")
    events = [json.loads(e["input"]) for e in aws.wait_all(sm)]
    (event,) = [e for e in events if e["detail"]["object"]["key"] != "in/second.jpg"]
    assert set(event) == {
        "version", "id", "detail-type", "source", "account",
        "time", "region", "resources", "detail",
    }  # fmt: skip
    assert event["source"] == "aws.s3"
    assert event["detail-type"] == "Object Created"
    assert event["account"] == ACCOUNT
    assert event["region"] == REGION
    assert event["resources"] == ["arn:aws:s3:::src"]
    assert len({e["id"] for e in events}) == 2, "every event has its own id"
    assert uuid.UUID(event["id"])
    assert time.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    detail = event["detail"]
    assert detail["reason"] == "PutObject"
    assert detail["requester"] == ACCOUNT
    assert set(detail) == {
        "version", "bucket", "object", "request-id", "requester", "source-ip-address", "reason",
    }  # fmt: skip
    obj = detail["object"]
    # URL-encoded like every S3 notification ("+" for space), "/" kept.
    assert obj["key"] == "in/a+b%2Bc%281%29/%C3%BC.jpg"
    assert obj["size"] == 5
    assert obj["etag"] == put["ETag"].strip('"')
    assert "eTag" not in obj
    assert "version-id" not in obj, "unversioned bucket: AWS omits version-id"
    assert len(obj["sequencer"]) == 16
    int(obj["sequencer"], 16)
    seqs = sorted(e["detail"]["object"]["sequencer"] for e in events)
    assert len(set(seqs)) == 2


def test_s3_eventbridge_event_carries_version_id_on_versioned_bucket(aws):
    _bucket(aws, versioned=True)
    sm = aws.state_machine(PASS_SM)
    _s3_rule(aws, sm, [{"prefix": ""}])
    put = aws.s3.put_object(Bucket="src", Key="a.jpg", Body=b"x")
    (execution,) = aws.wait_all(sm)
    obj = json.loads(execution["input"])["detail"]["object"]
    assert obj["version-id"] == put["VersionId"]


def test_s3_copy_reason_and_other_buses_not_targeted(aws):
    _bucket(aws)
    sm = aws.state_machine(PASS_SM)
    _s3_rule(aws, sm, [{"prefix": "dst/"}])
    aws.events.create_event_bus(Name="custom")
    aws.events.put_rule(
        Name="custom-rule", EventBusName="custom", EventPattern=json.dumps({"source": ["aws.s3"]})
    )
    aws.events.put_targets(
        Rule="custom-rule", EventBusName="custom", Targets=[{"Id": "s", "Arn": sm}]
    )
    aws.s3.put_object(Bucket="src", Key="src/a.jpg", Body=b"x")
    aws.s3.copy_object(
        Bucket="src", Key="dst/a.jpg", CopySource={"Bucket": "src", "Key": "src/a.jpg"}
    )
    (execution,) = aws.wait_all(sm)  # the custom bus rule (matches both) got nothing
    assert json.loads(execution["input"])["detail"]["reason"] == "CopyObject"


def test_put_events_honours_target_input_path_and_input(aws):
    sm = aws.state_machine(PASS_SM)
    aws.events.put_rule(Name="r", EventPattern=json.dumps({"source": ["imgflow.test"]}))
    aws.events.put_targets(
        Rule="r",
        Targets=[
            {"Id": "path", "Arn": sm, "InputPath": "$.detail"},
            {"Id": "const", "Arn": sm, "Input": json.dumps({"fixed": True})},
        ],
    )
    aws.events.put_events(
        Entries=[{"Source": "imgflow.test", "DetailType": "t", "Detail": json.dumps({"k": "v"})}]
    )
    inputs = sorted(json.dumps(json.loads(e["input"]), sort_keys=True) for e in aws.wait_all(sm))
    assert inputs == ['{"fixed": true}', '{"k": "v"}']


def test_failed_start_goes_to_the_target_dead_letter_queue(aws):
    url, dlq = aws.queue("dlq")
    missing = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:missing"
    aws.events.put_rule(Name="r", EventPattern=json.dumps({"source": ["imgflow.test"]}))
    aws.events.put_targets(
        Rule="r", Targets=[{"Id": "sfn", "Arn": missing, "DeadLetterConfig": {"Arn": dlq}}]
    )
    aws.events.put_events(
        Entries=[{"Source": "imgflow.test", "DetailType": "t", "Detail": json.dumps({"k": "v"})}]
    )
    (failure,) = moto_patches.eventbridge_failures
    assert failure.target_arn == missing
    (msg,) = aws.sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(msg["Body"])["detail"] == {"k": "v"}
    assert msg["MessageAttributes"]["TARGET_ARN"]["StringValue"] == missing


def test_the_local_upload_rule_dead_letters_to_the_templates_queue_after_its_retry_policy():
    """The local stack's rule target carries template.yaml's RetryPolicy and
    DeadLetterConfig, and a start that fails lands in the template's DeadLetterQueue."""
    from imgflow_toolkit.cloudformation import load_yaml
    from imgflow_toolkit.local.runtime import EmbeddedStack

    resources = load_yaml(REPO / "template.yaml")["Resources"]
    declared = resources["ImageWorkflow"]["Properties"]["Events"]["ImageUploaded"]["Properties"]
    with EmbeddedStack(REPO / "template.yaml") as stack:
        (rule,) = stack.spec.state_machine.rules
        (target,) = stack.events.list_targets_by_rule(Rule=rule.name)["Targets"]
        assert target["RetryPolicy"] == declared["RetryPolicy"]
        queue = stack.sqs.get_queue_url(QueueName=stack.spec.queues["DeadLetterQueue"])
        url = queue["QueueUrl"]
        attributes = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        assert target["DeadLetterConfig"] == {"Arn": attributes["Attributes"]["QueueArn"]}

        from moto.stepfunctions.responses import get_backend

        backend = type(get_backend(ACCOUNT, REGION))
        throttled = RuntimeError("Rate exceeded")  # its class name is the ERROR_CODE
        with patch.object(backend, "start_execution", side_effect=throttled):
            stack.upload("lost.jpg", b"not started")
        (failure,) = moto_patches.eventbridge_failures
        (msg,) = stack.sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
        assert json.loads(msg["Body"])["detail"]["object"]["key"] == "lost.jpg"
        assert msg["MessageAttributes"]["ERROR_CODE"]["StringValue"] == failure.error


# --------------------------------------------------------------------------- 5. other ASL features


def test_choice_ispresent_booleanequals_context_object_and_succeed(aws):
    sm = aws.state_machine(
        {
            "StartAt": "Prepare",
            "States": {
                "Prepare": {
                    "Type": "Pass",
                    "Parameters": {"execution.$": "$$.Execution.Id", "skip.$": "$.skip"},
                    "Next": "Decide",
                },
                "Decide": {
                    "Type": "Choice",
                    "Choices": [
                        {
                            "And": [
                                {"Variable": "$.skip", "IsPresent": True},
                                {"Variable": "$.skip", "BooleanEquals": True},
                            ],
                            "Next": "Skipped",
                        }
                    ],
                    "Default": "Work",
                },
                "Work": {"Type": "Pass", "Result": "worked", "ResultPath": "$.path", "End": True},
                "Skipped": {"Type": "Succeed"},
            },
        }
    )
    skipped = aws.run(sm, {"skip": True})
    assert json.loads(skipped["output"]) == {"execution": skipped["executionArn"], "skip": True}
    worked = aws.run(sm, {"skip": False})
    assert json.loads(worked["output"])["path"] == "worked"


def test_sns_publish_with_message_attributes_can_be_read_back(aws):
    topic = aws.sns.create_topic(Name="imgflow")["TopicArn"]
    url, queue_arn = aws.queue("mail")
    aws.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sns = aws.sns

    def notify(event, context):
        sns.publish(
            TopicArn=topic,
            Subject="imgflow: done",
            Message=json.dumps({"key": event["key"]}),
            MessageAttributes={"status": {"DataType": "String", "StringValue": "SUCCEEDED"}},
        )
        return {"notified": True}

    aws.function("notify", notify)
    sm = aws.state_machine({"StartAt": "N", "States": {"N": lambda_task("notify", End=True)}})
    assert aws.run(sm, {"key": "a.jpg"})["status"] == "SUCCEEDED"

    from moto.sns.models import sns_backends

    (sent,) = sns_backends[ACCOUNT][REGION].topics[topic].sent_notifications
    _message_id, message, subject, attributes, _group = sent
    assert json.loads(message) == {"key": "a.jpg"}
    assert subject == "imgflow: done"
    # moto stores attributes as the SNS envelope shows them, not as published.
    assert attributes == {"status": {"Type": "String", "Value": "SUCCEEDED"}}

    (msg,) = aws.sqs.receive_message(QueueUrl=url)["Messages"]
    envelope = json.loads(msg["Body"])  # SNS envelope (no raw delivery)
    assert envelope["MessageAttributes"]["status"] == {"Type": "String", "Value": "SUCCEEDED"}


# --------------------------------------------------------------------------- 6. history


def test_execution_history_has_the_aws_event_format(aws):
    def validate(event, context):
        raise InvalidImageError("bad")

    aws.function("validate", validate)
    sm = aws.state_machine(
        {
            "StartAt": "Validate",
            "States": {
                "Validate": lambda_task(
                    "validate",
                    Catch=[
                        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}
                    ],
                    End=True,
                ),
                "Failed": {"Type": "Fail", "Error": "ImageFailed", "Cause": "see history"},
            },
        }
    )
    desc = aws.run(sm)
    events = aws.history(desc["executionArn"])
    types = [e["type"] for e in events]
    assert types == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskFailed",
        "TaskStateExited",
        "FailStateEntered",
        "ExecutionFailed",
    ]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")
    ]
    assert entered == ["Validate", "Failed"]
    failed = next(e for e in events if e["type"] == "TaskFailed")["taskFailedEventDetails"]
    assert failed["error"] == "InvalidImageError"
    assert failed["resourceType"] == "lambda"
    assert failed["resource"] == "invoke"
    done = events[-1]["executionFailedEventDetails"]
    assert done == {"error": "ImageFailed", "cause": "see history"}


# --------------------------------------------------------------------------- S3 conditional writes


def test_copy_object_honours_if_none_match_on_the_destination(aws):
    aws.s3.create_bucket(Bucket="cond-writes")
    aws.s3.put_object(Bucket="cond-writes", Key="src", Body=b"new")
    aws.s3.put_object(Bucket="cond-writes", Key="dst", Body=b"old")
    with pytest.raises(aws.s3.exceptions.ClientError) as failed:
        aws.s3.copy_object(
            Bucket="cond-writes",
            Key="dst",
            CopySource={"Bucket": "cond-writes", "Key": "src"},
            IfNoneMatch="*",
        )
    assert failed.value.response["Error"]["Code"] == "PreconditionFailed"
    assert aws.s3.get_object(Bucket="cond-writes", Key="dst")["Body"].read() == b"old"


def test_copy_object_honours_if_match_on_the_destination(aws):
    aws.s3.create_bucket(Bucket="cond-writes")
    aws.s3.put_object(Bucket="cond-writes", Key="src", Body=b"new")
    etag = aws.s3.put_object(Bucket="cond-writes", Key="dst", Body=b"old")["ETag"]
    with pytest.raises(aws.s3.exceptions.ClientError):
        aws.s3.copy_object(
            Bucket="cond-writes",
            Key="dst",
            CopySource={"Bucket": "cond-writes", "Key": "src"},
            IfMatch='"stale"',
        )
    aws.s3.copy_object(
        Bucket="cond-writes",
        Key="dst",
        CopySource={"Bucket": "cond-writes", "Key": "src"},
        IfMatch=etag,
    )
    assert aws.s3.get_object(Bucket="cond-writes", Key="dst")["Body"].read() == b"new"


def test_concurrent_create_only_puts_let_exactly_one_win(aws):
    aws.s3.create_bucket(Bucket="cond-writes")
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def put(n: int) -> None:
        start.wait()
        try:
            aws.s3.put_object(Bucket="cond-writes", Key="k", Body=str(n).encode(), IfNoneMatch="*")
            outcomes.append("won")
        except aws.s3.exceptions.ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=put, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("won") == 1
    assert set(outcomes) - {"won"} == {"PreconditionFailed"}


# --------------------------------------------------------------------------- ASL parsing


def test_concurrent_parsing_of_the_real_definition_never_fails():
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    moto_patches.apply()
    definition = read_stack(REPO / "template.yaml").state_machine.definition
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def parse_many() -> None:
        start.wait()
        for _ in range(15):
            try:
                AmazonStateLanguageParser.parse(definition)
            except BaseException as exc:  # the bug killed threads with IndexError
                failures.append(exc)

    threads = [threading.Thread(target=parse_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    # The shared class-level stack the patch guards is left balanced.
    assert Preprocessor._query_language_per_scope == []


def test_parse_is_serialised_by_the_patch():
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    moto_patches.apply()
    assert getattr(AmazonStateLanguageParser.parse, "_imgflow_serialised", False)


def test_the_reason_for_serialised_parsing_still_holds():
    # Every Preprocessor shares one scope stack (a class-level list): the race.
    # If moto makes it per instance, the parse lock can go.
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    assert Preprocessor()._query_language_per_scope is Preprocessor()._query_language_per_scope


def test_delete_object_is_serialised_with_puts(aws, monkeypatch):
    # Unserialised, a delete racing a put of the same key closed the buffer the
    # put was reading for its ETag ("I/O operation on closed file").
    from moto.s3.models import S3Backend

    original = S3Backend.delete_object
    held: list[bool] = []

    def delete_object(self, *args, **kwargs):
        held.append(s3_patches._put_lock._is_owned())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(S3Backend, "delete_object", delete_object)
    aws.s3.create_bucket(Bucket="serialised")
    aws.s3.put_object(Bucket="serialised", Key="k", Body=b"x")
    aws.s3.delete_object(Bucket="serialised", Key="k")
    assert held == [True]


def test_notification_configuration_reads_back_eventbridge_with_the_rest(aws):
    aws.s3.create_bucket(Bucket="notified")
    _, queue_arn = aws.queue("notified-queue")
    queue = {"Id": "q", "QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}
    for config in (
        {"EventBridgeConfiguration": {}},
        {"EventBridgeConfiguration": {}, "QueueConfigurations": [queue]},
        {"QueueConfigurations": [queue]},
        {},
    ):
        aws.s3.put_bucket_notification_configuration(
            Bucket="notified", NotificationConfiguration=config
        )
        got = aws.s3.get_bucket_notification_configuration(Bucket="notified")
        got.pop("ResponseMetadata")
        assert got == config


def test_the_reason_for_the_eventbridge_read_patch_still_holds():
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification
    while hasattr(original, "__wrapped__"):
        original = original.__wrapped__
    with mock_aws(), patch.object(S3Response, "get_bucket_notification", original):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="unpatched")
        s3.put_bucket_notification_configuration(
            Bucket="unpatched", NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        got = s3.get_bucket_notification_configuration(Bucket="unpatched")
    assert "EventBridgeConfiguration" not in got  # moto 5.2.5 leaves it out


def test_drop_object_removes_every_version_of_one_key_only(aws):
    aws.s3.create_bucket(Bucket="dropped")
    aws.s3.put_bucket_versioning(Bucket="dropped", VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two"):
        aws.s3.put_object(Bucket="dropped", Key="k", Body=body, Tagging="imgflow=x")
    aws.s3.delete_object(Bucket="dropped", Key="k")  # a delete marker on top
    aws.s3.put_object(Bucket="dropped", Key="other", Body=b"kept", Tagging="imgflow=y")
    from moto.s3.models import s3_backends

    tagger = s3_backends[ACCOUNT]["aws"].tagger
    assert len(tagger.tags) == 3
    moto_patches.drop_object("dropped", "k")
    moto_patches.drop_object("dropped", "never-there")
    listed = aws.s3.list_object_versions(Bucket="dropped")
    assert [v["Key"] for v in listed.get("Versions", [])] == ["other"]
    assert not listed.get("DeleteMarkers")
    # moto keeps a deleted version's tags by ARN; dropped versions leave none.
    assert [arn.split("/")[1] for arn in tagger.tags] == ["other"]


def _tagged_arns() -> list[str]:
    from moto.s3.models import s3_backends

    return sorted(s3_backends[ACCOUNT]["aws"].tagger.tags)


def test_a_deleted_object_takes_its_tags_with_it(aws):
    aws.s3.create_bucket(Bucket="plain")
    aws.s3.put_object(Bucket="plain", Key="staged", Body=b"x", Tagging="imgflow=x")
    aws.s3.put_object(Bucket="plain", Key="kept", Body=b"y")
    assert [arn.split("/")[1] for arn in _tagged_arns()] == ["kept", "staged"]
    aws.s3.delete_object(Bucket="plain", Key="staged")
    aws.s3.delete_object(Bucket="plain", Key="never-there")
    assert [arn.split("/")[1] for arn in _tagged_arns()] == ["kept"]
    assert aws.s3.get_object_tagging(Bucket="plain", Key="kept")["TagSet"] == []


def test_a_delete_marker_keeps_the_versions_tags_and_a_deleted_version_drops_its_own(aws):
    aws.s3.create_bucket(Bucket="versioned")
    aws.s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    first = aws.s3.put_object(Bucket="versioned", Key="k", Body=b"1", Tagging="v=1")
    second = aws.s3.put_object(Bucket="versioned", Key="k", Body=b"2", Tagging="v=2")
    aws.s3.delete_object(Bucket="versioned", Key="k")  # a delete marker: both versions stay
    assert len(_tagged_arns()) == 2
    aws.s3.delete_object(Bucket="versioned", Key="k", VersionId=first["VersionId"])
    assert [arn.rsplit("/", 1)[1] for arn in _tagged_arns()] == [second["VersionId"]]
    tags = aws.s3.get_object_tagging(Bucket="versioned", Key="k", VersionId=second["VersionId"])
    assert tags["TagSet"] == [{"Key": "v", "Value": "2"}]


def test_the_reason_for_the_deleted_object_tags_patch_still_holds(aws):
    from moto.s3.models import S3Backend, s3_backends

    aws.s3.create_bucket(Bucket="plain")
    aws.s3.put_object(Bucket="plain", Key="staged", Body=b"x")
    backend = s3_backends[ACCOUNT]["aws"]
    S3Backend.delete_object.__wrapped__(backend, "plain", "staged")  # moto's own
    assert [arn.split("/")[1] for arn in _tagged_arns()] == ["staged"]


def test_forgotten_deleted_messages_leave_no_receipt_handles(aws):
    from moto.sqs.models import sqs_backends

    url, _ = aws.queue("inbox")
    for n in range(3):
        aws.sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
    received = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    for message in received:
        aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    queue = sqs_backends[ACCOUNT][REGION].queues["inbox"]
    handles = {m["ReceiptHandle"] for m in received}
    assert handles <= queue.deleted_messages  # moto keeps every one
    moto_patches.forget_deleted_messages()
    assert queue.deleted_messages == set()
    aws.sqs.send_message(QueueUrl=url, MessageBody="later")
    later = aws.sqs.receive_message(QueueUrl=url)["Messages"]
    assert [m["Body"] for m in later] == ["later"]


def test_a_request_is_freed_with_its_call_not_by_the_cycle_collector(aws):
    from moto.core.request import Request

    aws.s3.create_bucket(Bucket="freed")
    gc.collect()
    gc.disable()  # what a cycle would keep alive stays alive
    try:
        aws.s3.put_object(Bucket="freed", Key="photo.jpg", Body=b"x" * 300_000)
        alive = [o for o in gc.get_objects() if isinstance(o, Request)]
    finally:
        gc.enable()
    assert alive == []


def test_the_reason_for_the_request_cycle_patch_still_holds():
    from moto.core.request import Request
    from werkzeug.test import EnvironBuilder

    moto_patches.apply()
    environ = EnvironBuilder(method="PUT", data=b"body").get_environ()
    request = object.__new__(Request)
    Request.__init__.__wrapped__(request, environ)  # moto's own
    assert environ["werkzeug.request"] is request  # request -> environ -> request


def test_forgotten_notifications_leave_no_signing_certificates(aws):
    from moto.sns.models import sns_backends

    topic = aws.sns.create_topic(Name="told")["TopicArn"]
    _, queue_arn = aws.queue("inbox")
    aws.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    for n in range(3):
        aws.sns.publish(TopicArn=topic, Message=f"m{n}")
    backend = sns_backends[ACCOUNT][REGION]
    assert len(backend._message_public_keys) == 3  # moto signs each delivery anew
    moto_patches.forget_sent_notifications()
    assert backend._message_public_keys == {}
    assert all(not t.sent_notifications for t in backend.topics.values())


def test_forgotten_executions_and_threads_are_gone_and_running_ones_stay(aws):
    from moto.stepfunctions.parser.utils import TMP_THREADS

    sm = aws.sfn.create_state_machine(
        name="forget",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=SFN_ROLE,
    )["stateMachineArn"]
    arn = aws.sfn.start_execution(stateMachineArn=sm)["executionArn"]
    moto_patches.wait_for_execution(aws.sfn, arn)
    assert moto_patches.forget_executions(sm, {arn, "arn:unknown"}) == 1
    assert aws.sfn.list_executions(stateMachineArn=sm)["executions"] == []
    for thread in list(TMP_THREADS):
        thread.join(timeout=30)
    moto_patches.forget_finished_threads()
    assert TMP_THREADS == []


class _Recorder:
    """An execution that records the order in which its fields are set."""

    def __init__(self, state: Any, output: str) -> None:
        object.__setattr__(self, "order", [])
        env = type("Env", (), {})()
        env.program_state = lambda: state
        env.states = type("States", (), {"get_input": staticmethod(lambda: output)})()
        object.__setattr__(self, "exec_worker", type("Worker", (), {"env": env})())

    def __setattr__(self, name: str, value: Any) -> None:
        self.order.append(name)
        object.__setattr__(self, name, value)


@pytest.mark.parametrize("ending", ["ended", "error"])
def test_an_ending_execution_shows_its_status_only_with_its_output(ending):
    """Another thread's DescribeExecution must never see SUCCEEDED without output
    (or FAILED without its error): the status is set last."""
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded, ProgramError
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    moto_patches.apply()
    state = (
        ProgramEnded()
        if ending == "ended"
        else ProgramError(error={"error": "Boom", "cause": "because"})
    )
    execution = _Recorder(state, '{"stored": {}}')
    BaseExecutionWorkerCommunication(execution)._reflect_execution_status()
    assert execution.order[-1] == "exec_status"
    if ending == "ended":
        assert execution.output == '{"stored": {}}' and execution.exec_status == "SUCCEEDED"
    else:
        assert (execution.error, execution.cause) == ("Boom", "because")
        assert execution.exec_status == "FAILED"


def test_unpatched_moto_sets_the_status_before_the_output():
    """Why the patch exists (fails when moto fixes the order itself)."""
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    moto_patches.apply()
    original = BaseExecutionWorkerCommunication._reflect_execution_status.__wrapped__
    execution = _Recorder(ProgramEnded(), "{}")
    original(BaseExecutionWorkerCommunication(execution))
    assert execution.order.index("exec_status") < execution.order.index("output")


# --------------------------------------------------------------------------- 8-10. backfill


def _listing_map(bucket: str, processor_states: dict[str, Any], start_at: str) -> dict[str, Any]:
    """A Distributed Map over a bucket listing, as statemachine/backfill.asl.json has it."""
    return {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:listObjectsV2",
                    "Parameters": {"Bucket": bucket},
                },
                "ItemSelector": {"key.$": "$$.Map.Item.Value.Key"},
                "MaxConcurrency": 4,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": start_at,
                    "States": processor_states,
                },
                "End": True,
            }
        },
    }


def test_item_reader_lists_every_page_of_the_prefix(aws, monkeypatch):
    monkeypatch.setattr(item_reader, "item_reader_page_size", 3)
    aws.s3.create_bucket(Bucket="listed")
    keys = [f"k{i:02d}" for i in range(10)]  # 4 pages of 3
    for key in keys:
        aws.s3.put_object(Bucket="listed", Key=key, Body=b"x")
    sm = aws.state_machine(_listing_map("listed", {"P": {"Type": "Pass", "End": True}}, "P"))
    desc = aws.run(sm)
    assert desc["status"] == "SUCCEEDED", desc
    assert sorted(item["key"] for item in json.loads(desc["output"])) == keys


def test_item_reader_on_an_empty_listing_has_no_items(aws):
    aws.s3.create_bucket(Bucket="empty")
    sm = aws.state_machine(_listing_map("empty", {"P": {"Type": "Pass", "End": True}}, "P"))
    desc = aws.run(sm)
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"]) == []


def test_the_reason_for_the_paging_patch_still_holds(aws):
    # Unpatched, one page only (and KeyError on none): if moto pages, the patch can go.
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3 import (  # noqa: E501
        ResourceEvalS3,
    )

    moto_patches.apply()
    original = ResourceEvalS3._handle_list_objects_v2.__wrapped__
    source = __import__("inspect").getsource(original)
    assert "ContinuationToken" not in source and 'response["Contents"]' in source


def test_start_execution_sync2_task_runs_the_child_and_returns_its_description(aws):
    child = aws.state_machine(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"done": 1}, "End": True}}}
    )
    parent = aws.state_machine(
        {
            "StartAt": "Child",
            "States": {
                "Child": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Parameters": {
                        "StateMachineArn": child,
                        "Input": {"source.$": "$.source"},
                    },
                    "ResultSelector": {
                        "execution.$": "$.ExecutionArn",
                        "status.$": "$.Status",
                        "output.$": "$.Output",
                    },
                    "End": True,
                }
            },
        }
    )
    desc = aws.run(parent, {"source": {"key": "a b.jpg"}})
    assert desc["status"] == "SUCCEEDED", desc
    output = json.loads(desc["output"])
    assert output["status"] == "SUCCEEDED" and output["output"] == {"done": 1}
    (started,) = aws.executions(child)
    assert output["execution"] == started["executionArn"]
    child_input = aws.sfn.describe_execution(executionArn=started["executionArn"])["input"]
    assert json.loads(child_input) == {"source": {"key": "a b.jpg"}}


def test_the_step_functions_model_is_loaded_once_for_every_shape(monkeypatch):
    import botocore.session

    boto3.client("stepfunctions", region_name=REGION)  # as the runtime's own client
    sessions = []
    original = botocore.session.get_session

    def get_session(*args, **kwargs):
        sessions.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(botocore.session, "get_session", get_session)
    sfn_integration._sfn_model.cache_clear()
    try:
        shapes = [
            sfn_integration._sfn_shape(operation, direction)
            for operation in ("start_execution", "describe_execution")
            for direction in ("input", "output")
        ]
        model = sfn_integration._sfn_model()
    finally:
        sfn_integration._sfn_model.cache_clear()
    # No session of its own: the shared client's model, from boto3's default session,
    # which already holds the model's JSON.
    assert sessions == []
    assert model is clients.shared_client(REGION, "stepfunctions").meta.service_model
    assert "stateMachineArn" in shapes[0].members
    assert "executionArn" in shapes[1].members


def test_the_interpreter_shares_one_client_per_service():
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
        resource_eval_s3 as item_reader_s3,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (  # noqa: E501
        resource_eval_s3 as result_writer_s3,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_sfn,
    )

    moto_patches.apply()
    for module in (state_task_service_sfn, item_reader_s3, result_writer_s3, lambda_eval_utils):
        assert module.boto_client_for is clients.shared_client
    with mock_aws(config=CONFIG):
        first = clients.shared_client(REGION, "stepfunctions")
        assert clients.shared_client(REGION, "stepfunctions", object()) is first
        assert clients.shared_client(REGION, "s3") is not first
        assert first.meta.region_name == REGION


def test_sync_tasks_poll_faster_than_moto_default():
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback,
    )

    moto_patches.apply()
    assert state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK == (
        sfn_integration.SYNC_POLL_SECONDS
    )
    assert sfn_integration.SYNC_POLL_SECONDS < 0.5


def test_one_map_worker_processes_more_items_than_the_recursion_limit(aws):
    items = list(range(1500))  # one worker, 1,500 items: a recursion per item would die
    sm = aws.state_machine(
        {
            "StartAt": "Map",
            "States": {
                "Map": {
                    "Type": "Map",
                    "MaxConcurrency": 1,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "P",
                        "States": {"P": {"Type": "Pass", "End": True}},
                    },
                    "End": True,
                }
            },
        }
    )
    arn = aws.sfn.start_execution(stateMachineArn=sm, input=json.dumps(items))["executionArn"]
    desc = wait_for_execution(aws.sfn, arn, timeout=120)
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"]) == items


def test_map_runs_can_be_listed_before_the_execution_has_begun(aws):
    sm = aws.state_machine({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    arn = aws.sfn.start_execution(stateMachineArn=sm)["executionArn"]
    assert aws.sfn.list_map_runs(executionArn=arn)["mapRuns"] == []  # at once, as AWS answers
    wait_for_execution(aws.sfn, arn)
    # An unknown map run is an error answer, not a crash of the mock.
    with pytest.raises(ClientError, match="does not exist"):
        aws.sfn.describe_map_run(mapRunArn=f"{sm.replace('stateMachine', 'mapRun')}/x:y")


def test_a_map_runs_item_events_are_numbered_but_not_kept(aws):
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as module,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext

    manager = module.EventManager()
    context = EventHistoryContext.of_program_start()
    ids = [manager.add_event(context=context, event_type="PassStateEntered") for _ in range(3)]
    assert ids == [1, 2, 3] and manager.get_event_history() == []
    # ...and a map run still works (its output is the items' results).
    sm = aws.state_machine(_listing_map("nothing", {"P": {"Type": "Pass", "End": True}}, "P"))
    aws.s3.create_bucket(Bucket="nothing")
    aws.s3.put_object(Bucket="nothing", Key="k", Body=b"x")
    desc = aws.run(sm)
    assert desc["status"] == "SUCCEEDED" and json.loads(desc["output"]) == [{"key": "k"}]


def test_an_execution_being_started_is_listed_as_running():
    from moto.stepfunctions.parser.backend.execution import Execution

    moto_patches.apply()
    starting = Execution.__new__(Execution)  # appended, not yet started: no status
    starting.exec_status = None
    assert starting.status == "RUNNING"
    with pytest.raises(AttributeError):
        Execution.status.fget.__wrapped__(starting)  # what moto itself does


# --------------------------------------------------------------------------- manifests


def _manifest_map(bucket: str, key: str, reader_config: dict[str, Any]) -> dict[str, Any]:
    """A Distributed Map reading a manifest with getObject, as the backfill's do."""
    return {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": reader_config,
                    "Parameters": {"Bucket": bucket, "Key": key},
                },
                "ItemSelector": {"item.$": "$$.Map.Item.Value"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }


def _inventory(s3: Any, rows_per_file: list[list[str]], schema: str) -> str:
    """An S3 Inventory as S3 delivers one: gzipped CSV data files and a manifest.json."""
    import csv
    import gzip
    import io

    files = []
    for n, rows in enumerate(rows_per_file):
        text = io.StringIO()
        csv.writer(text, quoting=csv.QUOTE_ALL).writerows(rows)
        key = f"inv/cms/daily/data/part-{n}.csv.gz"
        s3.put_object(Bucket="inventory", Key=key, Body=gzip.compress(text.getvalue().encode()))
        files.append({"key": key, "size": 1, "MD5checksum": "x"})
    manifest = {
        "sourceBucket": "cms",
        "destinationBucket": "arn:aws:s3:::inventory",
        "version": "2016-11-30",
        "fileFormat": "CSV",
        "fileSchema": schema,
        "files": files,
    }
    s3.put_object(Bucket="inventory", Key="inv/cms/daily/manifest.json", Body=json.dumps(manifest))
    return "inv/cms/daily/manifest.json"


def test_item_reader_reads_every_data_file_of_an_s3_inventory(aws):
    aws.s3.create_bucket(Bucket="inventory")
    rows = [
        [["cms", "photos/holiday%20snaps/stra%C3%9Fe+1.jpg", "124550"]],
        [["cms", "photos/a.jpg", "10"], ["cms", "notes.txt", "3"]],
    ]
    key = _inventory(aws.s3, rows, "Bucket, Key, Size")
    desc = aws.run(aws.state_machine(_manifest_map("inventory", key, {"InputType": "MANIFEST"})))
    assert desc["status"] == "SUCCEEDED", desc
    assert [entry["item"] for entry in json.loads(desc["output"])] == [
        {"Bucket": "cms", "Key": "photos/holiday%20snaps/stra%C3%9Fe+1.jpg", "Size": "124550"},
        {"Bucket": "cms", "Key": "photos/a.jpg", "Size": "10"},
        {"Bucket": "cms", "Key": "notes.txt", "Size": "3"},
    ]


@pytest.mark.parametrize(
    ("manifest", "cause"),
    [
        (None, "NoSuchKey"),
        ("not json", "not an S3 Inventory manifest"),
        ('{"fileFormat": "ORC", "fileSchema": "x", "files": []}', "only CSV inventories"),
    ],
)
def test_an_unreadable_inventory_fails_the_map_with_item_reader_failed(aws, manifest, cause):
    aws.s3.create_bucket(Bucket="inventory")
    if manifest is not None:
        aws.s3.put_object(Bucket="inventory", Key="inv/manifest.json", Body=manifest)
    definition = _manifest_map("inventory", "inv/manifest.json", {"InputType": "MANIFEST"})
    desc = aws.run(aws.state_machine(definition))
    assert desc["status"] == "FAILED", desc
    assert desc["error"] == "States.ItemReaderFailed" and cause in desc["cause"], desc


def test_a_missing_csv_list_fails_the_map_with_item_reader_failed(aws):
    aws.s3.create_bucket(Bucket="lists")
    config = {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["Bucket", "Key"]}
    desc = aws.run(aws.state_machine(_manifest_map("lists", "gone.csv", config)))
    assert desc["status"] == "FAILED", desc
    assert desc["error"] == "States.ItemReaderFailed" and "s3://lists/gone.csv" in desc["cause"]


def test_the_reason_for_the_manifest_patch_still_holds():
    # Unpatched, MANIFEST is no InputType moto knows: if it learns it, the patch can go.
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.reader_config.input_type import (  # noqa: E501
        InputTypeValue,
    )

    moto_patches.apply()
    assert "MANIFEST" not in InputTypeValue.__members__
