"""Every path the image workflow's ASL reads or writes names a field of the contract.

A JSONPath in the ASL is a string the Python side never sees: a typo in
``"$.validated.sourec"`` or ``"$.Payload.outcom"`` deploys fine and fails (or
silently reads nothing) at run time. This walks every path into the state data
(InputPath, OutputPath, ResultPath, the ``.$`` values of Parameters and
ItemSelector, intrinsic functions' arguments, Choice Variables and ``...Path``
comparisons, a Fail's ErrorPath and CausePath) and resolves it against
imgflow.contract.State; each ResultSelector path against the output model of
the function its Task invokes; each Task's Payload keys against that
function's input model. The trigger's own fields (the event that started the
execution, kept as State's extra fields) are not named by any path and are not
part of the check: a path into them fails here until the contract types them.
"""

from __future__ import annotations

import copy
import json
import re
import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from imgflow import contract

pytestmark = pytest.mark.usefixtures("repo")

# Each function the workflow invokes: its input model and its output model.
FUNCTIONS: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "${ValidateImageFunctionArn}": (contract.ValidateInput, contract.Validation),
    "${CompressImageFunctionArn}": (contract.CompressInput, contract.Compression),
    "${CompressLargeImageFunctionArn}": (contract.CompressInput, contract.Compression),
    "${StoreResultFunctionArn}": (contract.StoreInput, contract.Stored),
    "${QuarantineOriginalFunctionArn}": (contract.QuarantineInput, contract.Quarantined),
    "${NotifyFunctionArn}": (contract.NotifyInput, contract.Notified),
}
# The fields a state's paths name directly (Parameters, Choice, ResultPath...).
PATH_FIELDS = ("InputPath", "OutputPath", "ResultPath", "ErrorPath", "CausePath", "ItemsPath")
_SEGMENT = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+|\*)\]|\['([^']+)'\]")
_PATH_ARGUMENT = re.compile(r"(?<![\w$])(\$(?:\.[\w-]+|\[[^\]]+\])*)")


@pytest.fixture(scope="module")
def asl(repo) -> dict[str, Any]:
    return json.loads((repo / "statemachine/compress_image.asl.json").read_text())


def segments(path: str) -> list[str]:
    """``$.a.b[0]`` -> ``["a", "b", "[]"]``; raise ValueError on what is not a JSONPath."""
    if not path.startswith("$"):
        raise ValueError(f"{path!r} is not a JSONPath")
    rest, found = path[1:], []
    while rest:
        match = _SEGMENT.match(rest)
        if match is None:
            raise ValueError(f"{path!r}: cannot read {rest!r}")
        name, _index, quoted = match.groups()
        found.append(name or quoted or "[]")
        rest = rest[match.end() :]
    return found


def _field(model: type[BaseModel], name: str) -> Any:
    """The annotation of the field named ``name`` in the payload (its alias, if any)."""
    for attribute, info in model.model_fields.items():
        if name == (info.serialization_alias or info.alias or attribute):
            return info.annotation
    raise LookupError(f"{model.__name__} has no field {name!r}")


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X`` (the contract's optional fields)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def resolve(model: type[BaseModel], path: str) -> str | None:
    """None when ``path`` names fields ``model`` has, else what is wrong."""
    try:
        parts = segments(path)
    except ValueError as exc:
        return str(exc)
    current: Any = model
    for depth, part in enumerate(parts):
        current = _unwrap(current)
        where = "$." + ".".join(parts[:depth]) if depth else "$"
        if part == "[]":
            if typing.get_origin(current) is not list:
                return f"{path}: {where} is not a list"
            (current,) = typing.get_args(current)
            continue
        if typing.get_origin(current) is dict or current is Any:
            return None  # free-form JSON (an event, Notification.extra): nothing to check
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return f"{path}: {where} is {getattr(current, '__name__', current)}, not an object"
        try:
            current = _field(current, part)
        except LookupError as exc:
            return f"{path}: {exc}"
    return None


def state_paths(value: Any) -> Iterator[str]:
    """The state-data paths in a Parameters/ItemSelector/ResultSelector template
    (``"key.$"`` values, intrinsic functions' path arguments); ``$$`` is the context."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key.endswith(".$") and isinstance(inner, str):
                if inner.startswith("States."):
                    yield from _PATH_ARGUMENT.findall(inner)
                elif not inner.startswith("$$"):
                    yield inner
            else:
                yield from state_paths(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from state_paths(inner)


def choice_paths(rule: dict[str, Any]) -> Iterator[str]:
    if "Variable" in rule:
        yield rule["Variable"]
    for operator, operand in rule.items():
        if operator.endswith("Path") and isinstance(operand, str):
            yield operand  # StringEqualsPath and the like compare with another path
    for inner in [
        *rule.get("And", []),
        *rule.get("Or", []),
        *([rule["Not"]] if "Not" in rule else []),
    ]:
        yield from choice_paths(inner)


def states_of(asl: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in asl["States"].items():
        yield name, state
        for nested in [
            state.get("ItemProcessor"),
            state.get("Iterator"),
            *state.get("Branches", []),
        ]:
            if nested:
                yield from states_of(nested)


def path_problems(asl: dict[str, Any]) -> list[str]:
    """Every path of the workflow that names a field the contract lacks."""
    problems: list[str] = []

    def check(model: type[BaseModel], where: str, path: str) -> None:
        if path == "$" or path.startswith("$$"):
            return
        problem = resolve(model, path)
        if problem:
            problems.append(f"{where}: {problem}")

    for name, state in states_of(asl):
        for field_name in PATH_FIELDS:
            if isinstance(state.get(field_name), str):
                check(contract.State, f"{name} {field_name}", state[field_name])
        for catcher in state.get("Catch", []):
            if "ResultPath" in catcher:
                check(contract.State, f"{name} Catch ResultPath", catcher["ResultPath"])
        for field_name in ("Parameters", "ItemSelector"):
            for path in state_paths(state.get(field_name)):
                check(contract.State, f"{name} {field_name}", path)
        for i, rule in enumerate(state.get("Choices", [])):
            for path in choice_paths(rule):
                check(contract.State, f"{name} Choices[{i}]", path)
        if state.get("Type") != "Task" or state.get("Resource") != "arn:aws:states:::lambda:invoke":
            continue
        function = state["Parameters"]["FunctionName"]
        if function not in FUNCTIONS:
            problems.append(f"{name}: invokes {function}, which has no input/output model here")
            continue
        input_model, output_model = FUNCTIONS[function]
        for key in state["Parameters"]["Payload"]:
            check(input_model, f"{name} Payload", "$." + key.removesuffix(".$"))
        for path in state_paths(state.get("ResultSelector")):
            if not path.startswith("$.Payload."):
                problems.append(f"{name} ResultSelector: {path} is not inside the Payload")
                continue
            check(output_model, f"{name} ResultSelector", "$" + path.removeprefix("$.Payload"))
    return problems


def test_every_path_of_the_workflow_names_a_contract_field(asl):
    assert path_problems(asl) == []


def test_the_walk_reaches_every_kind_of_path(asl):
    # If the walk skipped a kind of path, the test above could not fail on it.
    seen: dict[str, set[str]] = {}
    for name, state in states_of(asl):
        kinds = seen.setdefault(name, set())
        kinds |= {f for f in PATH_FIELDS if f in state}
        kinds |= {"Parameters"} if list(state_paths(state.get("Parameters"))) else set()
        kinds |= {"Choices"} if state.get("Choices") else set()
        kinds |= {"ResultSelector"} if state.get("ResultSelector") else set()
    everything = set().union(*seen.values())
    assert {"ResultPath", "ErrorPath", "CausePath", "Parameters", "Choices", "ResultSelector"} <= (
        everything
    )


def _set(asl: dict[str, Any], where: list[Any], value: Any) -> dict[str, Any]:
    """A copy of ``asl`` with the item at ``where`` (keys and indices) replaced by ``value``."""
    mutated = copy.deepcopy(asl)
    node = mutated["States"]
    for step in where[:-1]:
        node = node[step]
    node[where[-1]] = value
    return mutated


def _rename(asl: dict[str, Any], where: list[Any], old: str, new: str) -> dict[str, Any]:
    """A copy of ``asl`` with the key ``old`` of the object at ``where`` renamed ``new``."""
    mutated = copy.deepcopy(asl)
    node = mutated["States"]
    for step in where:
        node = node[step]
    node[new] = node.pop(old)
    return mutated


# One real typo per kind of path, and what the walk must report.
MUTATIONS = {
    "Parameters path": (
        lambda a: _set(
            a, ["Compress image", "Parameters", "Payload", "source.$"], "$.validated.sorce"
        ),
        "Compress image Parameters: $.validated.sorce: Validation has no field 'sorce'",
    ),
    "Parameters path below a field": (
        lambda a: _set(
            a,
            ["Store result", "Parameters", "Payload", "compressed.$"],
            "$.compressed.staged.bukcet",
        ),
        "ObjectRef has no field 'bukcet'",
    ),
    "Choice Variable": (
        lambda a: _set(a, ["Already compressed?", "Choices", 0, "Variable"], "$.validated.skipped"),
        "Already compressed? Choices[0]: $.validated.skipped: Validation has no field 'skipped'",
    ),
    "Choice on a field of the wrong step": (
        lambda a: _set(a, ["Stored?", "Choices", 0, "Variable"], "$.compressed.reason"),
        "Compression has no field 'reason'",
    ),
    "ResultPath": (
        lambda a: _set(a, ["Store result", "ResultPath"], "$.store"),
        "Store result ResultPath: $.store: State has no field 'store'",
    ),
    "Catch ResultPath": (
        lambda a: _set(a, ["Quarantine original", "Catch", 0, "ResultPath"], "$.quarantineError"),
        "State has no field 'quarantineError'",
    ),
    "Fail ErrorPath": (
        lambda a: _set(a, ["Failed", "ErrorPath"], "$.error.Errors"),
        "Failed ErrorPath: $.error.Errors: StatesError has no field 'Errors'",
    ),
    "ResultSelector": (
        lambda a: _set(a, ["Compress image", "ResultSelector", "outcome.$"], "$.Payload.outcom"),
        "Compress image ResultSelector: $.outcom: Compression has no field 'outcom'",
    ),
    "Payload key": (
        lambda a: _rename(a, ["Compress image", "Parameters", "Payload"], "image.$", "img.$"),
        "Compress image Payload: $.img: CompressInput has no field 'img'",
    ),
    "path through a scalar": (
        lambda a: _set(a, ["Large image?", "Choices", 0, "Variable"], "$.validated.large.value"),
        "$.validated.large is bool, not an object",
    ),
}


@pytest.mark.parametrize("kind", MUTATIONS)
def test_a_typo_in_a_path_is_caught(asl, kind):
    mutate, expected = MUTATIONS[kind]
    problems = path_problems(mutate(asl))
    assert len(problems) == 1 and expected in problems[0], problems


def test_a_task_invoking_a_function_without_models_is_caught(asl):
    mutated = _set(asl, ["Store result", "Parameters", "FunctionName"], "${ResizeFunctionArn}")
    assert path_problems(mutated) == [
        "Store result: invokes ${ResizeFunctionArn}, which has no input/output model here"
    ]
