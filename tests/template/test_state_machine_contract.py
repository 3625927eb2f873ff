"""The ASL and the Python error types must agree: names are the contract."""

import json

import pytest

from imgflow import errors

pytestmark = pytest.mark.usefixtures("repo")


@pytest.fixture(scope="module")
def asl(repo):
    return json.loads((repo / "statemachine/compress_image.asl.json").read_text())


def task_states(asl):
    return {name: s for name, s in asl["States"].items() if s["Type"] == "Task"}


def test_every_task_catches_everything(asl):
    for name, state in task_states(asl).items():
        assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name


def test_main_path_tasks_retry_exactly_the_transient_errors(asl):
    for name in ("Validate image", "Compress image", "Store result", "Notify success"):
        (retrier,) = task_states(asl)[name]["Retry"]
        assert retrier["ErrorEquals"] == list(errors.TRANSIENT_ERROR_NAMES), name
        assert retrier["BackoffRate"] > 1 and retrier["JitterStrategy"] == "FULL", name


def test_no_permanent_error_is_ever_retried(asl):
    permanent = {cls.__name__ for cls in errors.PERMANENT_ERRORS}
    for name, state in task_states(asl).items():
        for retrier in state.get("Retry", []):
            assert not permanent & set(retrier["ErrorEquals"]), name


def test_transient_error_class_name_matches_the_asl():
    assert errors.TransientError.__name__ in errors.TRANSIENT_ERROR_NAMES


def test_failures_end_in_a_fail_state_after_quarantine_and_notification(asl):
    states = asl["States"]
    assert states["Quarantine original"]["Next"] == "Notify failure"
    assert states["Notify failure"]["Next"] == "Failed"
    assert states["Failed"]["Type"] == "Fail"


def test_every_substitution_is_provided_by_the_template(repo, asl):
    from imgflow_toolkit.local.template import read_stack

    machine = read_stack(repo / "template.yaml").state_machine
    assert "${" not in machine.definition


@pytest.mark.parametrize(
    "state, model",
    [
        ("Validate image", "Validation"),
        ("Compress image", "Compression"),
        ("Store result", "Stored"),
        ("Quarantine original", "Quarantined"),
    ],
)
def test_each_task_selects_exactly_the_contract_fields(asl, state, model):
    from imgflow import contract

    selected = {k.removesuffix(".$") for k in asl["States"][state]["ResultSelector"]}
    fields = getattr(contract, model).model_fields
    assert selected == {f.serialization_alias or name for name, f in fields.items()}


def test_the_large_image_task_is_the_compress_task_on_the_large_function(asl):
    # Two states because ASL has no reuse; they may differ only in what the route is for.
    small, large = (task_states(asl)[n] for n in ("Compress image", "Compress large image"))
    differs = {"Comment", "TimeoutSeconds", "Parameters"}
    assert {k: v for k, v in small.items() if k not in differs} == {
        k: v for k, v in large.items() if k not in differs
    }
    assert {**small["Parameters"], "FunctionName": None} == {
        **large["Parameters"],
        "FunctionName": None,
    }
    assert large["Parameters"]["FunctionName"] == "${CompressLargeImageFunctionArn}"
    assert large["TimeoutSeconds"] > small["TimeoutSeconds"]
