"""The CloudWatch dashboard shows metrics that exist, of resources that exist.

A dashboard widget naming a metric nobody emits, or a dimension value that
is not the resource's (a queue's URL where CloudWatch wants its name), draws
an empty graph and no deploy check fails. So the body is substituted here
with markers for each ${Resource} and ${Resource.Attribute}, parsed as JSON,
and every metric is matched against the handlers' code and the template.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from imgflow.aws import telemetry
from imgflow.contract import Outcome
from imgflow.imaging.validate import SUPPORTED_FORMATS
from imgflow_toolkit.cloudformation import load_yaml

REPO = Path(__file__).resolve().parents[2]
PSEUDO = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::StackName": "s"}
# AWS metrics the dashboard may show: the dimension, and what its value must be.
AWS_METRICS = {
    ("AWS/Lambda", "Duration"): ("FunctionName", "AWS::Serverless::Function", None),
    ("AWS/States", "ExecutionsFailed"): ("StateMachineArn", "AWS::Serverless::StateMachine", None),
    ("AWS/States", "ExecutionsTimedOut"): (
        "StateMachineArn",
        "AWS::Serverless::StateMachine",
        None,
    ),
    ("AWS/States", "ExecutionsSucceeded"): (
        "StateMachineArn",
        "AWS::Serverless::StateMachine",
        None,
    ),
    # Ref of a queue is its URL: the dimension wants the name.
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): (
        "QueueName",
        "AWS::SQS::Queue",
        "QueueName",
    ),
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_yaml(REPO / "template.yaml")


@pytest.fixture(scope="module")
def body(template) -> dict[str, Any]:
    dashboard = template["Resources"]["Dashboard"]
    assert dashboard["Type"] == "AWS::CloudWatch::Dashboard"
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(text, str), "one !Sub string, no extra variables"
    resources = template["Resources"]

    def marker(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in PSEUDO:
            return PSEUDO[name]
        logical, _, attribute = name.partition(".")
        assert logical in resources, f"${{{name}}}: no resource {logical} in template.yaml"
        return f"att:{logical}.{attribute}" if attribute else f"ref:{logical}"

    return json.loads(re.sub(r"\$\{([^!}][^}]*)\}", marker, text))


def emitted_metrics() -> set[str]:
    """The metric names the handlers emit: imgflow.aws.telemetry names every one."""
    return set(telemetry.METRIC_NAMES)


def metric_rows(body: dict[str, Any]) -> list[list[Any]]:
    return [
        row
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for row in widget["properties"]["metrics"]
    ]


def resource_of(template: dict[str, Any], value: str, kind: str, attribute: str | None) -> str:
    expected = f"att:{{}}.{attribute}" if attribute else "ref:{}"
    matches = [
        logical
        for logical, spec in template["Resources"].items()
        if spec["Type"] == kind and value == expected.format(logical)
    ]
    assert matches, f"{value!r} is not the {attribute or 'Ref'} of a {kind}"
    return matches[0]


def test_every_handler_publishes_metrics_and_logs_with_a_correlation_id():
    for handler in sorted((REPO / "functions").glob("*/app.py")):
        code = handler.read_text()
        assert "@metrics.log_metrics" in code, f"{handler}: metrics are never flushed"
        assert "correlation_id_path=" in code, f"{handler}: logs cannot be joined up"
        assert "add_metric(" not in code, f"{handler}: name metrics in imgflow.aws.telemetry"


def test_the_steps_that_end_an_execution_record_its_outcome():
    recording = {
        handler.parent.name
        for handler in (REPO / "functions").glob("*/app.py")
        if "record_outcome(" in handler.read_text()
    }
    assert recording == {"store", "quarantine"}


def test_every_imgflow_metric_is_emitted_in_the_namespace_and_dimensions_of_powertools(
    template, body
):
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    namespace, service = env["POWERTOOLS_METRICS_NAMESPACE"], env["POWERTOOLS_SERVICE_NAME"]
    values = {"outcome": {str(o) for o in Outcome}, "format": set(SUPPORTED_FORMATS)}
    ours = [row for row in metric_rows(body) if not row[0].startswith("AWS/")]
    assert ours
    for row in ours:
        name, dimensions = row[1], row[2:-1] if isinstance(row[-1], dict) else row[2:]
        assert row[0] == namespace, row
        assert name in emitted_metrics(), f"{name}: no handler emits it"
        pairs = dict(zip(dimensions[::2], dimensions[1::2], strict=True))
        assert tuple(pairs) in telemetry.DIMENSION_SETS, f"{row}: not a published dimension set"
        assert pairs["service"] == service, row
        for dimension, value in pairs.items():
            if dimension in values:
                assert value in values[dimension], f"{row}: no image has {dimension}={value}"


def test_every_emitted_metric_is_on_the_dashboard(body):
    shown = {row[1] for row in metric_rows(body) if not row[0].startswith("AWS/")}
    assert emitted_metrics() <= shown


def test_every_aws_metric_names_a_resource_of_the_stack(template, body):
    seen = set()
    for row in metric_rows(body):
        if not row[0].startswith("AWS/"):
            continue
        assert (row[0], row[1]) in AWS_METRICS, f"{row[:2]}: not a metric this test knows"
        dimension, kind, attribute = AWS_METRICS[(row[0], row[1])]
        assert row[2] == dimension and len(row) in (4, 5), row
        seen.add(resource_of(template, row[3], kind, attribute))
    assert seen == {
        "CompressImageFunction",
        "CompressLargeImageFunction",
        "ImageWorkflow",
        "DeadLetterQueue",
    }


def test_memory_is_read_from_the_compress_functions_platform_reports(template, body):
    (widget,) = [w for w in body["widgets"] if w["type"] == "log"]
    query = widget["properties"]["query"]
    assert query.startswith("SOURCE 'ref:FunctionsLogGroup' |")
    assert template["Resources"]["FunctionsLogGroup"]["Type"] == "AWS::Logs::LogGroup"
    logging = template["Globals"]["Function"]["LoggingConfig"]
    # Only JSON-format logs carry platform.report records with these fields.
    assert logging == {"LogFormat": "JSON", "LogGroup": {"Ref": "FunctionsLogGroup"}}
    assert 'filter type = "platform.report"' in query
    assert "record.metrics.maxMemoryUsedMB" in query
    assert '"ref:CompressImageFunction", "ref:CompressLargeImageFunction"' in query
    # Streams of a shared log group: YYYY/MM/DD/<function name>[<version>]<id>
    pattern = re.search(r"parse @logStream /(.+?)/ \|", query).group(1)
    stream = "2026/12/01/imgflow-CompressImageFunction-Ab12[$LATEST]0123abcd"
    regex = pattern.replace("?<function>", "?P<function>").replace("\\/", "/")
    assert re.match(regex, stream).group("function") == "imgflow-CompressImageFunction-Ab12"


def test_every_widget_is_in_this_region_and_the_url_is_an_output(template, body):
    assert all(w["properties"]["region"] == "us-east-1" for w in body["widgets"])
    url = template["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]
    assert url.endswith("#dashboards:name=${Dashboard}")
    assert url.startswith("https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?")


def test_every_outcome_and_every_format_has_its_row(body):
    rows = [row for row in metric_rows(body) if not row[0].startswith("AWS/")]
    outcomes = {row[5] for row in rows if row[1] == "Images" and row[4] == "outcome"}
    assert outcomes == {str(o) for o in Outcome}
    for name in ("Images", "BytesSaved"):
        formats = {row[5] for row in rows if row[1] == name and row[4:5] == ["format"]}
        assert formats == set(SUPPORTED_FORMATS), name
