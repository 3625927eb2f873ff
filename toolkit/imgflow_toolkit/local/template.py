"""Reads template.yaml into what the embedded runtime creates.

The template is the single source of truth: bucket set, topic, functions
(handler, code, environment), the state machine's definition with its
substitutions, and the upload rule's event pattern all come from it, with
parameters, conditions and the intrinsic functions the template uses
resolved by the one reader of the template (``imgflow_toolkit.cloudformation``),
which the build and ASL checks share.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgflow.settings import Limits, ValidateSettings
from imgflow_toolkit.cloudformation import (
    ACCOUNT,
    REGION,
    STACK_NAME,
    Resolver,
    TemplateError,
    load_yaml,
)

IMAGE_WORKFLOW = "ImageWorkflow"  # logical ids of the template's two state machines
BACKFILL_WORKFLOW = "BackfillWorkflow"


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
    # The target's, as put_targets takes them (absent: EventBridge's defaults, no DLQ).
    retry_policy: dict[str, Any] | None = None
    dead_letter_config: dict[str, Any] | None = None


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
    queues: dict[str, str] = field(default_factory=dict)  # logical id -> name
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


def read_stack(
    template_path: Path, parameters: dict[str, str] | None = None, stack_name: str = STACK_NAME
) -> StackSpec:
    """Resolve template.yaml with these parameter overrides into a StackSpec."""
    resolver = Resolver(load_yaml(template_path), parameters, stack_name)
    return _StackReader(resolver, template_path.resolve().parent).stack()


class _StackReader:
    """What the runtime creates, from the template as the resolver resolves it."""

    def __init__(self, resolver: Resolver, root: Path) -> None:
        self.resolver = resolver
        self.root = root  # CodeUri and DefinitionUri are relative to the template

    # the stack ----------------------------------------------------------------
    def stack(self) -> StackSpec:
        r = self.resolver
        spec = StackSpec(name=r.stack_name, parameters=r.parameters)
        globals_fn = r.resolve(r.template.get("Globals", {}).get("Function", {}))
        for logical, resource in r.resources.items():
            if not r.enabled(resource):
                continue
            kind = resource["Type"]
            props = r.resolve(resource.get("Properties", {}))
            name = r.names[logical]
            if kind == "AWS::S3::Bucket":
                spec.buckets[logical] = name
                notification = props.get("NotificationConfiguration", {})
                if notification.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
                    spec.eventbridge_buckets.add(logical)
                if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
                    spec.versioned_buckets.add(logical)
            elif kind == "AWS::SNS::Topic":
                spec.topics[logical] = name
            elif kind == "AWS::SQS::Queue":
                spec.queues[logical] = name
            elif kind == "AWS::Serverless::Function":
                spec.functions[logical] = self._function(logical, name, props, globals_fn)
            elif kind == "AWS::Serverless::StateMachine":
                spec.state_machines[logical] = self._state_machine(logical, name, props)
            elif kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
                spec.custom_resources[logical] = self._custom_resource(logical, kind, props)
        spec.outputs = {
            key: r.resolve(output["Value"])
            for key, output in r.template.get("Outputs", {}).items()
            if r.enabled(output)
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
            self.resolver.get_att(fn, "Arn"): fn
            for fn, spec in self.resolver.resources.items()
            if spec["Type"] == "AWS::Serverless::Function" and fn in self.resolver.names
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
                retry_policy=e["Properties"].get("RetryPolicy"),
                dead_letter_config=e["Properties"].get("DeadLetterConfig"),
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


def default_limits(template_path: Path) -> Limits:
    """The image limits a deployment of this template with its parameters' defaults has
    (ValidateImage's environment): for the benchmarks and tests, outside a deployment."""
    environment = read_stack(template_path).functions["ValidateImageFunction"].environment
    return ValidateSettings.from_env(dict(environment)).limits
