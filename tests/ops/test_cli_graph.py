"""``imgflow graph``: a local run's executions after the run, recorded files, and AWS ARNs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import boto3
from aws_records import ASL, HISTORIES, recorded
from botocore.stub import Stubber

from imgflow_toolkit.cli import main
from imgflow_toolkit.commands import graph as graph_command

SVG = "{http://www.w3.org/2000/svg}"


def _classes(svg_path) -> dict[str, str]:
    root = ET.parse(svg_path).getroot()
    return {
        g.get("data-state"): g.get("class") for g in root.iter(f"{SVG}g") if g.get("data-state")
    }


def test_a_failed_local_execution_is_drawn_after_the_run_from_its_key(sample_run, tmp_path, capsys):
    out = tmp_path / "truncated.svg"
    assert main(["graph", "--run", str(sample_run), "broken/truncated.jpg", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "broken/truncated.jpg" in text and "FAILED" in text
    assert "InvalidImageError (caught)" in text
    states = _classes(out)
    assert states["Validate image"] == "state state-caught"
    assert states["Failed"] == "state state-failed"
    assert states["Compress image"] == "state state-not_reached"


def test_a_local_execution_is_found_by_its_arn_from_report_json(sample_run, tmp_path, capsys):
    report = json.loads((sample_run / "report.json").read_text())
    harbour = next(r for r in report if r["key"] == "photos/harbour.jpg")
    out = tmp_path / "harbour.svg"
    assert main(["graph", "--run", str(sample_run), harbour["execution"], "--out", str(out)]) == 0
    assert "SUCCEEDED" in capsys.readouterr().out
    states = _classes(out)
    assert states["Done"] == "state state-succeeded"
    assert "state-failed" not in states.values()


def test_an_unknown_execution_names_the_keys_it_knows(sample_run, capsys):
    assert main(["graph", "--run", str(sample_run), "nope.jpg"]) == 2
    assert "photos/harbour.jpg" in capsys.readouterr().err


def test_a_recorded_history_file_is_drawn_with_its_definition(tmp_path, capsys):
    history = HISTORIES / "image-too-large.history.json"
    out = tmp_path / "g.svg"
    code = main(["graph", str(history), "--definition", str(ASL), "--out", str(out)])
    assert code == 0
    assert "ImageTooLargeError" in capsys.readouterr().out
    assert _classes(out)["Validate image"] == "state state-caught"


def test_an_aws_execution_arn_is_drawn_from_its_history_and_definition(tmp_path, capsys):
    data = recorded("image-too-large")
    arn = data["describe"]["executionArn"]
    client = boto3.client("stepfunctions", region_name="eu-west-1")
    with Stubber(client) as stub:
        stub.add_response("describe_execution", data["describe"], {"executionArn": arn})
        stub.add_response(
            "describe_state_machine_for_execution",
            {
                "stateMachineArn": data["describe"]["stateMachineArn"],
                "name": "ImageWorkflow-Xy12AbCdEf34",
                "definition": ASL.read_text(),
                "roleArn": "arn:aws:iam::111122223333:role/imgflow-ImageWorkflowRole",
                "updateDate": data["describe"]["startDate"],
            },
            {"executionArn": arn},
        )
        events = data["history"]["events"]
        stub.add_response(
            "get_execution_history",
            {"events": events[:10], "nextToken": "page-2"},
            {"executionArn": arn, "maxResults": 1000},
        )
        stub.add_response(
            "get_execution_history",
            {"events": events[10:]},
            {"executionArn": arn, "maxResults": 1000, "nextToken": "page-2"},
        )
        out = tmp_path / "aws.svg"
        args = main_args(arn, out)
        assert graph_command.main(args, sfn_client=client) == 0
        stub.assert_no_pending_responses()
    text = capsys.readouterr().out
    assert "scans/poster.png" in text and "2 attempts" in text
    assert _classes(out)["Failed"] == "state state-failed"


def main_args(execution: str, out):
    import argparse

    return argparse.Namespace(
        execution=execution, run=None, out=out, definition=None, region=None, profile=None
    )
