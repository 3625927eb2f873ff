"""``imgflow replay`` on AWS, against a stubbed Step Functions client (moto lacks redrive)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from aws_records import recorded
from botocore.stub import ANY, Stubber

from imgflow.aws.stepfunctions import StepFunctions
from imgflow_toolkit.commands import replay as replay_command
from imgflow_toolkit.executions.replay import NAME_LIMIT, parse_since, replay, replay_name

MACHINE = "arn:aws:states:eu-west-1:111122223333:stateMachine:ImageWorkflow-Xy12AbCdEf34"
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@pytest.fixture
def sfn():
    client = boto3.client("stepfunctions", region_name="eu-west-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def failed(name: str, stopped: datetime, redrive: str = "REDRIVABLE", error: str = "X") -> dict:
    base = recorded("image-too-large")["describe"]
    arn = base["executionArn"].rsplit(":", 1)[0] + ":" + name
    return {
        **base,
        "executionArn": arn,
        "name": name,
        "startDate": stopped - timedelta(seconds=5),
        "stopDate": stopped,
        "redriveStatus": redrive,
        "error": error,
    }


def summary(description: dict) -> dict:
    keys = ("executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate")
    return {k: description[k] for k in keys}


def expect_listing(stub: Stubber, machine_type: str, descriptions: list[dict]) -> None:
    stub.add_response(
        "describe_state_machine",
        {
            "stateMachineArn": MACHINE,
            "name": "ImageWorkflow-Xy12AbCdEf34",
            "definition": "{}",
            "roleArn": "arn:aws:iam::111122223333:role/r",
            "type": machine_type,
            "creationDate": NOW - timedelta(days=90),
        },
        {"stateMachineArn": MACHINE},
    )
    stub.add_response(
        "list_executions",
        {"executions": [summary(d) for d in descriptions]},
        {"stateMachineArn": MACHINE, "statusFilter": "FAILED", "maxResults": 100},
    )


def test_a_redrivable_failure_is_redriven_in_place(sfn):
    client, stub = sfn
    recent = failed("recent", NOW - timedelta(hours=2))
    expect_listing(stub, "STANDARD", [recent])
    stub.add_response("describe_execution", recent, {"executionArn": recent["executionArn"]})
    stub.add_response(
        "redrive_execution", {"redriveDate": NOW}, {"executionArn": recent["executionArn"]}
    )
    (result,) = replay(StepFunctions(client), MACHINE, NOW - timedelta(days=1), now=NOW)
    assert (result.plan.action, result.execution_arn) == ("redrive", recent["executionArn"])


def test_a_failure_past_the_redrive_window_starts_anew_named_after_it(sfn):
    client, stub = sfn
    old = failed("old-upload", NOW - timedelta(days=15))
    expect_listing(stub, "STANDARD", [old])
    stub.add_response("describe_execution", old, {"executionArn": old["executionArn"]})
    started = old["executionArn"] + "-replay-1"
    stub.add_response(
        "start_execution",
        {"executionArn": started, "startDate": NOW},
        {"stateMachineArn": MACHINE, "name": "old-upload-replay-1", "input": old["input"]},
    )
    (result,) = replay(StepFunctions(client), MACHINE, NOW - timedelta(days=30), now=NOW)
    assert result.plan.action == "start"
    assert "14-day redrive window" in result.plan.why
    assert result.execution_arn == started


def test_a_taken_replay_name_moves_on_to_the_next_number(sfn):
    client, stub = sfn
    gone = failed("gone", NOW - timedelta(hours=1), redrive="NOT_REDRIVABLE")
    gone["redriveStatusReason"] = "Execution is SUCCEEDED or was redriven"
    expect_listing(stub, "STANDARD", [gone])
    stub.add_response("describe_execution", gone, {"executionArn": gone["executionArn"]})
    stub.add_client_error("start_execution", "ExecutionAlreadyExists", http_status_code=400)
    stub.add_response(
        "start_execution",
        {"executionArn": gone["executionArn"] + "-replay-2", "startDate": NOW},
        {"stateMachineArn": MACHINE, "name": "gone-replay-2", "input": ANY},
    )
    (result,) = replay(StepFunctions(client), MACHINE, NOW - timedelta(days=1), now=NOW)
    assert result.execution_arn.endswith(":gone-replay-2")
    assert "not redrivable" in result.plan.why


def test_express_workflows_are_started_anew(sfn):
    client, stub = sfn
    fast = failed("fast", NOW - timedelta(minutes=5))
    expect_listing(stub, "EXPRESS", [fast])
    stub.add_response("describe_execution", fast, {"executionArn": fast["executionArn"]})
    stub.add_response(
        "start_execution",
        {"executionArn": fast["executionArn"] + "-replay-1", "startDate": NOW},
        {"stateMachineArn": MACHINE, "name": "fast-replay-1", "input": ANY},
    )
    (result,) = replay(StepFunctions(client), MACHINE, NOW - timedelta(days=1), now=NOW)
    assert result.plan.action == "start" and "EXPRESS" in result.plan.why


def test_dry_run_lists_only_the_chosen_error_and_changes_nothing(sfn):
    client, stub = sfn
    big = failed("big", NOW - timedelta(hours=1), error="ImageTooLargeError")
    broken = failed("broken", NOW - timedelta(hours=2), error="InvalidImageError")
    broken["cause"] = '{"errorType": "InvalidImageError", "errorMessage": "truncated"}'
    expect_listing(stub, "STANDARD", [big, broken])
    stub.add_response("describe_execution", big, {"executionArn": big["executionArn"]})
    stub.add_response("describe_execution", broken, {"executionArn": broken["executionArn"]})
    results = replay(
        StepFunctions(client),
        MACHINE,
        NOW - timedelta(days=1),
        error="ImageTooLargeError",
        dry_run=True,
        now=NOW,
    )
    assert [(r.plan.name, r.status) for r in results] == [("big", "planned")]


def test_listing_stops_at_the_first_execution_before_the_window(sfn):
    client, stub = sfn
    inside = failed("inside", NOW - timedelta(hours=1))
    outside = failed("outside", NOW - timedelta(days=3))
    expect_listing(stub, "STANDARD", [inside, outside])
    stub.add_response("describe_execution", inside, {"executionArn": inside["executionArn"]})
    results = replay(StepFunctions(client), MACHINE, NOW - timedelta(days=1), dry_run=True, now=NOW)
    assert [r.plan.name for r in results] == ["inside"]


def test_waiting_reports_how_each_replay_ended(sfn):
    client, stub = sfn
    recent = failed("recent", NOW - timedelta(hours=2))
    expect_listing(stub, "STANDARD", [recent])
    arn = {"executionArn": recent["executionArn"]}
    stub.add_response("describe_execution", recent, arn)
    stub.add_response("redrive_execution", {"redriveDate": NOW}, arn)
    stub.add_response("describe_execution", {**recent, "status": "RUNNING"}, arn)
    stub.add_response("describe_execution", {**recent, "status": "SUCCEEDED"}, arn)
    pauses: list[float] = []
    (result,) = replay(
        StepFunctions(client),
        MACHINE,
        NOW - timedelta(days=1),
        wait=True,
        now=NOW,
        sleep=pauses.append,
    )
    assert result.status == "SUCCEEDED" and len(pauses) == 1


def test_replay_command_prints_what_was_replayed_and_how(sfn, capsys):
    client, stub = sfn
    recent = failed("recent", datetime.now(UTC) - timedelta(hours=2))
    expect_listing(stub, "STANDARD", [recent])
    stub.add_response("describe_execution", recent, {"executionArn": recent["executionArn"]})
    args = argparse.Namespace(
        run=None,
        state_machine_arn=MACHINE,
        stack_name="imgflow",
        since="24h",
        error=None,
        dry_run=True,
        wait=False,
        region="eu-west-1",
        profile=None,
    )
    assert replay_command.main(args, sfn_client=client) == 0
    out = capsys.readouterr().out
    assert "1 failed execution(s)" in out and "would replay" in out
    assert "recent" in out and "redrive" in out


def test_replay_names_link_to_the_failed_execution_within_80_characters():
    assert replay_name("abc", 1) == "abc-replay-1"
    assert replay_name("abc-replay-1", 2) == "abc-replay-2", "a replay of a replay stays flat"
    long = replay_name("x" * 80, 12)
    assert len(long) == NAME_LIMIT and long.endswith("-replay-12")


def test_since_takes_durations_and_dates():
    assert parse_since("24h", NOW) == NOW - timedelta(hours=24)
    assert parse_since("7d", NOW) == NOW - timedelta(days=7)
    assert parse_since("2026-11-01", NOW) == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday", NOW)
