"""Every wait has a bound: a stuck execution is stopped and reported, and the run ends."""

from __future__ import annotations

import json
import threading

from workflow_support import sample

from imgflow_toolkit.local.run import STUCK_ERROR, stall_limit, wait_for_executions
from imgflow_toolkit.report.images import report_from_execution


def test_the_bound_is_the_longest_task_with_its_retries_and_back_off():
    definition = {
        "States": {
            "A": {
                "Type": "Task",
                "TimeoutSeconds": 10,
                "Retry": [{"ErrorEquals": ["X"], "MaxAttempts": 2, "IntervalSeconds": 1}],
            },
            "B": {"Type": "Task", "TimeoutSeconds": 20},
            "C": {"Type": "Choice"},
        }
    }
    # A: 10 s x (1 + 2 retries) + back-off 1 + 2 s; B: 20 s once.
    assert stall_limit(json.dumps(definition)) == 33


def test_the_template_bound_covers_the_slowest_function_with_its_retries(stack):
    # The large-image compress task: 930 s, 4 retries, back-off 2+4+8+16 s.
    assert stall_limit(stack.spec.state_machine.definition) == 930 * 5 + 30


def test_a_stuck_execution_is_stopped_reported_by_name_and_the_wait_ends(stack):
    release = threading.Event()
    stack.inject("ValidateImageFunction", lambda event: release.wait(60))  # never answers
    try:
        stack.upload("stuck.jpg", sample("photos/harbour.jpg"))
        (described,) = wait_for_executions(stack, stall_seconds=0.5)
    finally:
        release.set()
    report = report_from_execution(described)
    assert described["status"] == "ABORTED"
    assert (report.key, report.status, report.outcome) == ("stuck.jpg", "FAILED", "error")
    assert report.error.type == STUCK_ERROR
    assert described["name"] in report.error.message
