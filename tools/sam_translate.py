#!/usr/bin/env python3
"""Translate the SAM template to plain CloudFormation, offline, for checkov.

checkov reads ``AWS::Serverless::Function`` directly but not what SAM
generates from it: the execution roles with their policy-template
statements, the state machine, its EventBridge rule and DLQ queue, layer
versions. Scanning the translated template covers those too.

Runs in the aws-sam-cli venv (which carries ``samtranslator``):

    .tools/sam/bin/python tools/sam_translate.py template.yaml OUT.json \
        [--default NAME=VALUE ... --source-out SAM.json]

Local paths are replaced the way ``sam deploy`` would (CodeUri/ContentUri ->
placeholder S3 objects; DefinitionUri -> the ASL inlined as Definition),
parameters keep their defaults, no AWS call is made (region is fixed, the
managed-policy loader is a stub: SAM only needs it for AWS managed policies
given by name).

``--default NAME=VALUE`` changes a parameter's default first (the scanners
evaluate conditions with the defaults), e.g. ExistingSourceBucket, so that the
resources and policies of that configuration are scanned too; ``--source-out``
then also writes that SAM template (JSON) for cfn-lint and checkov.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

PLACEHOLDER_BUCKET = "imgflow-checks-placeholder"


class StubManagedPolicyLoader:
    """AWS managed policies by name -> ARN, without calling IAM."""

    def load(self) -> dict[str, str]:
        return {}


def localise(template: dict, root: Path) -> None:
    for res in (template.get("Resources") or {}).values():
        if not isinstance(res, dict):
            continue
        props = res.setdefault("Properties", {}) or {}
        kind = res.get("Type")
        if kind == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = f"s3://{PLACEHOLDER_BUCKET}/{props['CodeUri'].strip('/')}.zip"
        elif kind == "AWS::Serverless::LayerVersion" and isinstance(props.get("ContentUri"), str):
            props["ContentUri"] = f"s3://{PLACEHOLDER_BUCKET}/{props['ContentUri'].strip('/')}.zip"
        elif kind == "AWS::Serverless::StateMachine" and isinstance(
            props.get("DefinitionUri"), str
        ):
            uri = props.pop("DefinitionUri")
            props["Definition"] = json.loads((root / uri).read_text(encoding="utf-8"))


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("template", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--default", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--source-out", type=Path, help="write the SAM template with those defaults")
    args = ap.parse_args()
    src, out = args.template, args.out
    template = yaml_parse(src.read_text(encoding="utf-8"))
    for assignment in args.default:
        name, _, value = assignment.partition("=")
        if name not in (template.get("Parameters") or {}):
            print(f"{src}: no parameter {name}", file=sys.stderr)
            return 2
        template["Parameters"][name]["Default"] = value
    if args.source_out:
        args.source_out.parent.mkdir(parents=True, exist_ok=True)
        args.source_out.write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
    localise(template, src.parent)
    try:
        translated = transform(template, {}, StubManagedPolicyLoader())
    except InvalidDocumentException as exc:
        for cause in exc.causes:
            print(f"{src}: {cause.message}", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(translated, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{src}: translated to {out} ({len(translated.get('Resources', {}))} resources)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
