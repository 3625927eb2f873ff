"""Reads template.yaml into what the embedded runtime creates.

The template is the single source of truth: bucket set, topic, functions
(handler, code, environment), the state machine's definition with its
substitutions, and the upload rule's event pattern all come from it, with
parameters, conditions and the intrinsic functions the template uses
resolved the way CloudFormation would.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
NO_VALUE = object()
IMAGE_WORKFLOW = "ImageWorkflow"  # logical ids of the template's two state machines
BACKFILL_WORKFLOW = "BackfillWorkflow"


class TemplateError(Exception):
    """template.yaml uses something the local runtime cannot resolve."""


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    architecture: str = "x86_64"  # Architectures[0]: what Lambda bills GB-seconds at

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.name}"


@dataclass(frozen=True)
class RuleSpec:
    logical_id: str
    name: str
    pattern: dict[str, Any]


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    name: str
    definition: str
    type: str
    rules: list[RuleSpec]

    @property
    def arn(self) -> str:
        return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{self.name}"


@dataclass(frozen=True)
class CustomResourceSpec:
    """A ``Custom::`` resource backed by one of the template's functions."""

    logical_id: str
    type: str
    function: str  # the logical id of the function its ServiceToken names
    properties: dict[str, Any]


@dataclass
class StackSpec:
    """Everything the template declares that the workflow runs on."""

    name: str
    parameters: dict[str, str]
    buckets: dict[str, str] = field(default_factory=dict)  # logical id -> name
    eventbridge_buckets: set[str] = field(default_factory=set)  # logical ids
    versioned_buckets: set[str] = field(default_factory=set)
    topics: dict[str, str] = field(default_factory=dict)  # logical id -> name
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    state_machines: dict[str, StateMachineSpec] = field(default_factory=dict)
    custom_resources: dict[str, CustomResourceSpec] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def topic_arn(self, logical_id: str) -> str:
        return f"arn:aws:sns:{REGION}:{ACCOUNT}:{self.topics[logical_id]}"

    @property
    def state_machine(self) -> StateMachineSpec:
        """The image workflow: what an upload starts, and what every image runs."""
        if IMAGE_WORKFLOW in self.state_machines:
            return self.state_machines[IMAGE_WORKFLOW]
        (machine,) = self.state_machines.values()
        return machine

    @property
    def backfill(self) -> StateMachineSpec:
        """The backfill: a Distributed Map over the source bucket's existing objects."""
        if BACKFILL_WORKFLOW not in self.state_machines:
            raise TemplateError(f"the template declares no {BACKFILL_WORKFLOW} state machine")
        return self.state_machines[BACKFILL_WORKFLOW]


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that understands CloudFormation's short-form tags."""


def _short_form(tag: str) -> None:
    name = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    _CfnLoader.add_constructor(f"!{tag}", construct)


for _tag in [
    "Ref",
    "GetAtt",
    "Sub",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Condition",
    "FindInMap",
    "Join",
    "Select",
    "Split",
    "Base64",
    "GetAZs",
    "ImportValue",
]:
    _short_form(_tag)


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


def read_stack(
    template_path: Path, parameters: dict[str, str] | None = None, stack_name: str = "imgflow"
) -> StackSpec:
    """Resolve template.yaml with these parameter overrides into a StackSpec."""
    template = load_yaml(template_path)
    resolver = _Resolver(template, template_path.resolve().parent, parameters or {}, stack_name)
    return resolver.stack()


def read_resources(
    template_path: Path, parameters: dict[str, str] | None = None, stack_name: str = "imgflow"
) -> dict[str, dict[str, Any]]:
    """Every resource whose Condition holds, as {"Type", "Properties"} with its
    intrinsics resolved: what CloudFormation would create with these parameters."""
    template = load_yaml(template_path)
    resolver = _Resolver(template, template_path.resolve().parent, parameters or {}, stack_name)
    return {
        logical: {"Type": spec["Type"], "Properties": resolver.resolve(spec.get("Properties", {}))}
        for logical, spec in resolver.resources.items()
        if resolver._enabled(spec)
    }


class _Resolver:
    def __init__(
        self, template: dict[str, Any], root: Path, overrides: dict[str, str], stack: str
    ) -> None:
        self.template = template
        self.root = root
        self.stack_name = stack
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.parameters = self._parameters(overrides)
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self._condition(name)
        self.names: dict[str, str] = {}
        self.names = {
            logical: self._physical_name(logical, spec)
            for logical, spec in self.resources.items()
            if self._enabled(spec)
        }

    # parameters and conditions ------------------------------------------------
    def _parameters(self, overrides: dict[str, str]) -> dict[str, str]:
        declared = self.template.get("Parameters", {})
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(f"unknown template parameter(s): {', '.join(sorted(unknown))}")
        values = {}
        for name, spec in declared.items():
            value = str(overrides.get(name, spec.get("Default", "")))
            allowed = spec.get("AllowedValues")
            if allowed and value not in [str(a) for a in allowed]:
                raise TemplateError(f"parameter {name}={value!r} not in {allowed}")
            pattern = spec.get("AllowedPattern")
            if pattern and not re.fullmatch(pattern, value):
                raise TemplateError(f"parameter {name}={value!r} does not match {pattern}")
            values[name] = value
        return values

    def _condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self.conditions[name]

    def _enabled(self, spec: dict[str, Any]) -> bool:
        condition = spec.get("Condition")
        return condition is None or self._condition(condition)

    def _physical_name(self, logical: str, spec: dict[str, Any]) -> str:
        kind = spec["Type"]
        given = spec.get("Properties", {}).get("Name")
        if kind == "AWS::Serverless::StateMachine" and given is not None:
            # A name the template sets (from pseudo parameters and parameters only).
            return str(self.resolve(given))
        if kind == "AWS::S3::Bucket":
            return f"{self.stack_name}-{logical}".lower()
        return f"{self.stack_name}-{logical}"

    # intrinsic functions ------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((fn, arg),) = value.items()
            handler = _INTRINSICS.get(fn)
            if handler:
                return handler(self, arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.names:
            return self._ref_resource(name)
        if name in self.resources:
            raise TemplateError(f"!Ref {name}: the resource's Condition is false")
        if name in self._generated():
            # A function's execution role, generated by the SAM transform: not created
            # locally (IAM is not enforced), named for what refers to it.
            return f"{self.stack_name}-{name}"
        raise TemplateError(f"!Ref {name}: no such parameter or resource")

    def _generated(self) -> set[str]:
        """Logical ids the SAM transform adds: each function's ``<Function>Role``."""
        return {
            f"{logical}Role"
            for logical, spec in self.resources.items()
            if spec["Type"] == "AWS::Serverless::Function" and self._enabled(spec)
        }

    def _ref_resource(self, logical: str) -> str:
        kind = self.resources[logical]["Type"]
        name = self.names[logical]
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
        if kind == "AWS::Serverless::StateMachine":
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        return name

    def get_att(self, logical: str, attribute: str) -> str:
        if logical not in self.names:
            # Generated by the SAM transform (an event's rule or queue): not created locally.
            return f"arn:aws:local:{REGION}:{ACCOUNT}:{logical}/{attribute}"
        kind = self.resources[logical]["Type"]
        name = self.names[logical]
        arns = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::Serverless::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if attribute == "TopicName" and kind == "AWS::SNS::Topic":
            return name
        if attribute == "Name":
            return name
        # A resource the local runtime does not create (KMS key, alarm, queue...):
        # a recognisable placeholder, never used to reach anything.
        return f"arn:aws:local:{REGION}:{ACCOUNT}:{logical}/{attribute}"

    def sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return str(extra[name])
            if "." in name:
                logical, attribute = name.split(".", 1)
                return str(self.get_att(logical, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    # the stack ----------------------------------------------------------------
    def stack(self) -> StackSpec:
        spec = StackSpec(name=self.stack_name, parameters=self.parameters)
        globals_fn = self.resolve(self.template.get("Globals", {}).get("Function", {}))
        for logical, resource in self.resources.items():
            if not self._enabled(resource):
                continue
            kind = resource["Type"]
            props = self.resolve(resource.get("Properties", {}))
            name = self.names[logical]
            if kind == "AWS::S3::Bucket":
                spec.buckets[logical] = name
                notification = props.get("NotificationConfiguration", {})
                if notification.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
                    spec.eventbridge_buckets.add(logical)
                if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
                    spec.versioned_buckets.add(logical)
            elif kind == "AWS::SNS::Topic":
                spec.topics[logical] = name
            elif kind == "AWS::Serverless::Function":
                spec.functions[logical] = self._function(logical, name, props, globals_fn)
            elif kind == "AWS::Serverless::StateMachine":
                spec.state_machines[logical] = self._state_machine(logical, name, props)
            elif kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
                spec.custom_resources[logical] = self._custom_resource(logical, kind, props)
        spec.outputs = {
            key: self.resolve(output["Value"])
            for key, output in self.template.get("Outputs", {}).items()
            if self._enabled(output)
        }
        return spec

    def _function(
        self, logical: str, name: str, props: dict[str, Any], globals_fn: dict[str, Any]
    ) -> FunctionSpec:
        environment = {
            **globals_fn.get("Environment", {}).get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
        return FunctionSpec(
            logical_id=logical,
            name=name,
            code_dir=self.root / props["CodeUri"],
            handler=props.get("Handler", globals_fn.get("Handler", "")),
            environment={k: str(v) for k, v in environment.items()},
            timeout=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
            memory=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
            architecture=str(
                props.get("Architectures", globals_fn.get("Architectures", ["x86_64"]))[0]
            ),
        )

    def _custom_resource(
        self, logical: str, kind: str, props: dict[str, Any]
    ) -> CustomResourceSpec:
        token = props.get("ServiceToken")
        functions = {
            self.get_att(fn, "Arn"): fn
            for fn, spec in self.resources.items()
            if spec["Type"] == "AWS::Serverless::Function" and fn in self.names
        }
        if token not in functions:
            raise TemplateError(f"{logical}: ServiceToken {token!r} names no function here")
        # CloudFormation hands a provider every property as a string.
        properties = {k: v if isinstance(v, (dict, list)) else str(v) for k, v in props.items()}
        return CustomResourceSpec(logical, kind, functions[token], properties)

    def _state_machine(self, logical: str, name: str, props: dict[str, Any]) -> StateMachineSpec:
        if "DefinitionUri" in props:
            definition = (self.root / props["DefinitionUri"]).read_text()
        else:
            definition = json.dumps(props["Definition"])
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        leftover = re.findall(r"\$\{([A-Za-z0-9_]+)\}", definition)
        if leftover:
            raise TemplateError(f"{logical}: unresolved substitution(s) {sorted(set(leftover))}")
        rules = [
            RuleSpec(
                logical_id=f"{logical}{event}",
                name=f"{name}-{event}"[:64],
                pattern=e["Properties"]["Pattern"],
            )
            for event, e in props.get("Events", {}).items()
            if e.get("Type") == "EventBridgeRule"
        ]
        return StateMachineSpec(
            logical_id=logical,
            name=name,
            definition=definition,
            type=str(props.get("Type", "STANDARD")),
            rules=rules,
        )


def _get_att(resolver: _Resolver, arg: Any) -> str:
    logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
    return resolver.get_att(resolver.resolve(logical), resolver.resolve(attribute))


def _if(resolver: _Resolver, arg: list[Any]) -> Any:
    name, when_true, when_false = arg
    return resolver.resolve(when_true if resolver._condition(name) else when_false)


def _find_in_map(resolver: _Resolver, arg: list[Any]) -> Any:
    mapping, first, second = (resolver.resolve(a) for a in arg)
    return resolver.template["Mappings"][mapping][first][second]


_INTRINSICS: dict[str, Any] = {
    "Ref": lambda r, a: r.ref(r.resolve(a)),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": lambda r, a: r.sub(a),
    "Fn::If": _if,
    "Fn::Equals": lambda r, a: str(r.resolve(a[0])) == str(r.resolve(a[1])),
    "Fn::Not": lambda r, a: not r.resolve(a[0]),
    "Fn::And": lambda r, a: all(r.resolve(x) for x in a),
    "Fn::Or": lambda r, a: any(r.resolve(x) for x in a),
    "Condition": lambda r, a: r._condition(a),
    "Fn::FindInMap": _find_in_map,
    "Fn::Join": lambda r, a: str(a[0]).join(str(x) for x in r.resolve(a[1])),
    "Fn::Select": lambda r, a: r.resolve(a[1])[int(r.resolve(a[0]))],
    "Fn::Split": lambda r, a: str(r.resolve(a[1])).split(a[0]),
}
