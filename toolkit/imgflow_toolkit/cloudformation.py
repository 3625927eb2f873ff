"""The one reader of template.yaml: its YAML, its parameters, conditions and intrinsics.

The embedded runtime (``local/template.py``), the build check
(``tools/check_build.py``) and the ASL check (``tools/validate_asl.py``) all
read the template through this module, so a value the template resolves to
is the same value in each of them, and the account and region the local
stack pretends to live in are defined here once (``REGION``, ``ACCOUNT``).

Why our own resolver and not the SAM translator (``aws-sam-translator``,
what ``sam`` itself uses): the translator turns SAM resources into
CloudFormation ones but leaves ``!Ref``, ``!Sub``, ``!GetAtt``, ``!If`` and
the conditions for CloudFormation to evaluate at deploy time, while every
consumer here needs the *resolved* values (a bucket's name, a function's
environment, a state machine's substituted definition, the resources whose
Condition holds). Its own intrinsics resolver substitutes parameters and
pseudo parameters only, not conditions, ``Fn::If`` or attributes. It would
also bring pydantic and a pinned boto3 into the toolkit, and the tools'
venvs pin their own. This module needs the standard library and PyYAML
alone, so the tools' venvs (aws-sam-cli's, cfn-lint's: both install PyYAML)
import it from the source tree without installing the toolkit
(``tests/template/test_template_reader.py`` keeps it that way).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
STACK_NAME = "imgflow"  # the stack name samconfig.toml deploys, and the local stack's
NO_VALUE = object()  # !Ref AWS::NoValue: the key or list item is dropped

__all__ = [
    "ACCOUNT",
    "NO_VALUE",
    "REGION",
    "STACK_NAME",
    "Resolver",
    "TemplateError",
    "load_yaml",
    "read_resources",
]


class TemplateError(Exception):
    """template.yaml uses something this reader cannot resolve."""


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
    """The template as data, short-form tags in their long form (``!Ref X`` -> ``{"Ref": "X"}``)."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)


def read_resources(
    template_path: Path, parameters: dict[str, str] | None = None, stack_name: str = STACK_NAME
) -> dict[str, dict[str, Any]]:
    """Every resource whose Condition holds, as {"Type", "Properties"} with its
    intrinsics resolved: what CloudFormation would create with these parameters."""
    resolver = Resolver(load_yaml(template_path), parameters, stack_name)
    return {
        logical: {"Type": spec["Type"], "Properties": resolver.resolve(spec.get("Properties", {}))}
        for logical, spec in resolver.resources.items()
        if resolver.enabled(spec)
    }


class Resolver:
    """Resolves a template's intrinsics the way CloudFormation would, for one set of
    parameter overrides: resources are named ``<stack>-<LogicalId>`` (buckets in lower
    case), live in ``REGION`` and ``ACCOUNT``, and an attribute of what the local
    runtime does not create resolves to a recognisable ``arn:aws:local:`` placeholder."""

    def __init__(
        self,
        template: dict[str, Any],
        parameters: dict[str, str] | None = None,
        stack_name: str = STACK_NAME,
    ) -> None:
        self.template = template
        self.stack_name = stack_name
        self.resources: dict[str, Any] = template.get("Resources") or {}
        self.parameters = self._parameters(parameters or {})
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions") or {}:
            self.condition(name)
        self.names: dict[str, str] = {}
        self.names = {
            logical: self._physical_name(logical, spec)
            for logical, spec in self.resources.items()
            if self.enabled(spec)
        }

    # parameters and conditions ------------------------------------------------
    def _parameters(self, overrides: dict[str, str]) -> dict[str, str]:
        declared = self.template.get("Parameters") or {}
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

    def condition(self, name: str) -> bool:
        """The value of the template's condition ``name``."""
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self.conditions[name]

    def enabled(self, spec: dict[str, Any]) -> bool:
        """Whether a resource (or output) is created: it has no Condition, or it holds."""
        condition = spec.get("Condition")
        return condition is None or self.condition(condition)

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
        """``value`` with every intrinsic function in it evaluated."""
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
        """``!Ref name``: a pseudo parameter, a parameter, or a resource created here."""
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
            if spec["Type"] == "AWS::Serverless::Function" and self.enabled(spec)
        }

    def _ref_resource(self, logical: str) -> str:
        kind = self.resources[logical]["Type"]
        name = self.names[logical]
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
        if kind == "AWS::Serverless::StateMachine":
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        return name

    def get_att(self, logical: str, attribute: str) -> str:
        """``!GetAtt logical.attribute``."""
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
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if (kind, attribute) in {
            ("AWS::SNS::Topic", "TopicName"),
            ("AWS::SQS::Queue", "QueueName"),
        }:
            return name
        if attribute == "Name":
            return name
        # A resource the local runtime does not create (KMS key, alarm...):
        # a recognisable placeholder, never used to reach anything.
        return f"arn:aws:local:{REGION}:{ACCOUNT}:{logical}/{attribute}"

    def sub(self, arg: Any) -> str:
        """``!Sub text`` or ``!Sub [text, {variables}]``."""
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


def _get_att(resolver: Resolver, arg: Any) -> str:
    logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
    return resolver.get_att(resolver.resolve(logical), resolver.resolve(attribute))


def _if(resolver: Resolver, arg: list[Any]) -> Any:
    name, when_true, when_false = arg
    return resolver.resolve(when_true if resolver.condition(name) else when_false)


def _find_in_map(resolver: Resolver, arg: list[Any]) -> Any:
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
    "Condition": lambda r, a: r.condition(a),
    "Fn::FindInMap": _find_in_map,
    "Fn::Join": lambda r, a: str(a[0]).join(str(x) for x in r.resolve(a[1])),
    "Fn::Select": lambda r, a: r.resolve(a[1])[int(r.resolve(a[0]))],
    "Fn::Split": lambda r, a: str(r.resolve(a[1])).split(a[0]),
}
