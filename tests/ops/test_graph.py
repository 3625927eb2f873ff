"""Execution graphs from a definition and a history: AWS's recorded format and edge cases."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from aws_records import definition, recorded

from imgflow_toolkit.executions.svg import layout, render_svg
from imgflow_toolkit.executions.text import render_text
from imgflow_toolkit.executions.trace import (
    CAUGHT,
    FAILED,
    NOT_REACHED,
    RUNNING,
    SUCCEEDED,
    ExecutionTrace,
    edges_of,
    trace,
)

SVG = "{http://www.w3.org/2000/svg}"


def _recorded_trace() -> ExecutionTrace:
    return trace(definition(), recorded("image-too-large")["history"]["events"])


def _states(svg: str) -> dict[str, str]:
    root = ET.fromstring(svg)
    return {
        g.get("data-state"): g.get("class") for g in root.iter(f"{SVG}g") if g.get("data-state")
    }


def test_recorded_aws_history_shows_the_caught_error_and_the_fail_state():
    run = _recorded_trace()
    assert run.status == "FAILED"
    assert run.error == "ImageTooLargeError"
    assert run.path == ["Validate image", "Quarantine original", "Notify failure", "Failed"]
    validate = run.states["Validate image"]
    assert (validate.status, validate.attempts, validate.error) == (
        CAUGHT,
        2,
        "ImageTooLargeError",
    )
    assert run.states["Failed"].status == FAILED
    assert run.states["Quarantine original"].status == SUCCEEDED
    assert run.states["Compress image"].status == NOT_REACHED


def test_svg_marks_failed_states_red_and_highlights_the_path_taken():
    svg = render_svg(definition(), _recorded_trace(), "poster")
    states = _states(svg)
    assert set(states) == set(definition()["States"]), "every state is drawn"
    assert states["Validate image"] == "state state-caught"
    assert states["Failed"] == "state state-failed"
    assert states["Notify failure"] == "state state-succeeded"
    assert states["Compress image"] == "state state-not_reached"
    root = ET.fromstring(svg)
    reds = [
        g.find(f"{SVG}rect").get("stroke")
        for g in root.iter(f"{SVG}g")
        if g.get("data-state") in ("Validate image", "Failed")
    ]
    assert reds == ["#c62828", "#c62828"]
    taken = {
        (p.get("data-from"), p.get("data-to"))
        for p in root.iter(f"{SVG}path")
        if "edge-idle" not in (p.get("class") or "") and p.get("data-from")
    }
    assert taken == {
        ("Validate image", "Quarantine original"),
        ("Quarantine original", "Notify failure"),
        ("Notify failure", "Failed"),
    }


def test_text_graph_names_the_path_the_error_and_the_states_not_reached():
    text = render_text(definition(), _recorded_trace(), "poster")
    assert "ImageTooLargeError: image is 12000x9000 = 108 MP" in text
    assert "✘ Validate image" in text and "2 attempts" in text and "(caught)" in text
    assert "↓ caught\n  ✔ Quarantine original" in text
    assert "not reached: " in text and "Compress image" in text.split("not reached: ")[1]
    assert "\033[" not in text, "no colour codes unless asked for"


MINI = {
    "StartAt": "Work",
    "States": {
        "Work": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Retry": [{"ErrorEquals": ["States.ALL"]}],
            "Next": "Check",
        },
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.again", "BooleanEquals": True, "Next": "Work"}],
            "Default": "End",
        },
        "End": {"Type": "Succeed"},
    },
}


def _event(n: int, kind: str, **details: object) -> dict:
    return {"id": n, "previousEventId": n - 1, "type": kind, **details}


def test_a_task_that_succeeds_on_retry_is_green_and_counts_its_attempts():
    events = [
        _event(1, "ExecutionStarted"),
        _event(2, "TaskStateEntered", stateEnteredEventDetails={"name": "Work"}),
        _event(3, "TaskScheduled"),
        _event(4, "TaskFailed", taskFailedEventDetails={"error": "TransientError"}),
        _event(5, "TaskScheduled"),
        _event(6, "TaskSucceeded"),
        _event(7, "TaskStateExited", stateExitedEventDetails={"name": "Work"}),
        _event(8, "ChoiceStateEntered", stateEnteredEventDetails={"name": "Check"}),
        _event(9, "ChoiceStateExited", stateExitedEventDetails={"name": "Check"}),
        _event(10, "SucceedStateEntered", stateEnteredEventDetails={"name": "End"}),
        _event(11, "ExecutionSucceeded"),
    ]
    run = trace(MINI, events)
    assert run.status == "SUCCEEDED"
    assert run.states["Work"].status == SUCCEEDED
    assert run.states["Work"].attempts == 2
    assert run.failed_states == []


def test_an_uncaught_task_failure_is_the_failed_state():
    events = [
        _event(1, "ExecutionStarted"),
        _event(2, "TaskStateEntered", stateEnteredEventDetails={"name": "Work"}),
        _event(3, "TaskScheduled"),
        _event(4, "TaskFailed", taskFailedEventDetails={"error": "Boom", "cause": "it broke"}),
        _event(5, "ExecutionFailed", executionFailedEventDetails={"error": "Boom"}),
    ]
    run = trace(MINI, events)
    assert (run.status, run.failed_states) == ("FAILED", ["Work"])
    assert run.states["Work"].cause == "it broke"


def test_a_running_execution_shows_the_state_it_is_in():
    events = [
        _event(1, "ExecutionStarted"),
        _event(2, "TaskStateEntered", stateEnteredEventDetails={"name": "Work"}),
        _event(3, "TaskScheduled"),
    ]
    run = trace(MINI, events)
    assert (run.status, run.states["Work"].status) == ("RUNNING", RUNNING)


def test_layout_puts_each_state_below_the_states_that_lead_to_it_without_overlap():
    boxes = layout(definition())
    edges = edges_of(definition())
    back = {("Check", "Work")}
    for edge in edges:
        if (edge.source, edge.target) not in back:
            assert boxes[edge.target].y > boxes[edge.source].y, edge
    placed = list(boxes.values())
    for i, a in enumerate(placed):
        for b in placed[i + 1 :]:
            apart = a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
            assert apart, (a.name, b.name)


def test_a_loop_back_edge_does_not_break_the_layout():
    boxes = layout(MINI)
    assert boxes["Work"].y < boxes["Check"].y < boxes["End"].y
    svg = render_svg(MINI, None)
    assert ET.fromstring(svg) is not None
