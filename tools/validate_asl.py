#!/usr/bin/env python3
"""Validate the state machine definitions with the npm asl-validator.

The definitions carry SAM ``DefinitionSubstitutions`` placeholders
(``"${ValidateImageFunctionArn}"``) as Resource values, which asl-validator
rejects as ARNs. This script

1. reads the ``DefinitionSubstitutions`` keys of every
   ``AWS::Serverless::StateMachine`` in the template whose ``DefinitionUri``
   names the file, and fails if the definition uses a placeholder the
   template does not define (a deploy-time error that neither sam nor
   cfn-lint reports); keys the definition never uses are only warned about;
2. substitutes a plausible ARN for every placeholder (by its name: ...FunctionArn
   -> Lambda, ...TopicArn -> SNS, ...BucketName -> a bucket name, ...);
3. runs asl-validator on the result (transitions, reachability, JSONPath,
   Retry/Catch shapes, Resource ARNs).

Usage: validate_asl.py --validator tools/node_modules/.bin/asl-validator
                       [--template template.yaml] DEFINITION.asl.json...

Runs in the cfn-lint venv: the template is read by the one reader of
template.yaml (imgflow_toolkit.cloudformation, imported from toolkit/ without
installing the toolkit), which needs the PyYAML cfn-lint installs.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# The one reader of template.yaml, from the source tree: this venv has no toolkit.
_TOOLKIT = str(Path(__file__).resolve().parents[1] / "toolkit")
if _TOOLKIT not in sys.path:
    sys.path.insert(0, _TOOLKIT)
from imgflow_toolkit.cloudformation import ACCOUNT, REGION, load_yaml  # noqa: E402

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")


# Suffix of a substitution key -> the ARN (or name) shape it stands for.
_PLAUSIBLE = (
    ("FunctionArn", "arn:aws:lambda:{region}:{account}:function:imgflow-{base}"),
    ("TopicArn", "arn:aws:sns:{region}:{account}:imgflow-{base}"),
    ("QueueArn", "arn:aws:sqs:{region}:{account}:imgflow-{base}"),
    ("StateMachineArn", "arn:aws:states:{region}:{account}:stateMachine:imgflow-{base}"),
    ("TableArn", "arn:aws:dynamodb:{region}:{account}:table/imgflow-{base}"),
    ("BucketArn", "arn:aws:s3:::imgflow-{lower}"),
    ("Arn", "arn:aws:lambda:{region}:{account}:function:imgflow-{base}"),
    ("Name", "imgflow-{lower}"),
)


def plausible_value(name: str) -> str:
    """A value of the right shape for a DefinitionSubstitutions key."""
    normalised = re.sub(r"ARN$", "Arn", name)
    base = re.sub(r"Arn$", "", normalised)
    for suffix, shape in _PLAUSIBLE:
        if normalised.endswith(suffix):
            return shape.format(region=REGION, account=ACCOUNT, base=base, lower=base.lower())
    return f"imgflow-{name.lower()}"


def substitute(node, used: set[str]):
    if isinstance(node, dict):
        return {k: substitute(v, used) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, used) for v in node]
    if isinstance(node, str):

        def repl(m: re.Match) -> str:
            used.add(m.group(1))
            return plausible_value(m.group(1))

        return PLACEHOLDER.sub(repl, node)
    return node


def template_substitutions(template: Path) -> dict[str, set[str]]:
    """{definition path (resolved): set of DefinitionSubstitutions keys}, over every
    state machine whatever its Condition (each definition must hold up on its own)."""
    result: dict[str, set[str]] = {}
    for res in (load_yaml(template).get("Resources") or {}).values():
        if not isinstance(res, dict) or res.get("Type") != "AWS::Serverless::StateMachine":
            continue
        props = res.get("Properties") or {}
        uri = props.get("DefinitionUri")
        if isinstance(uri, str):
            path = (template.parent / uri).resolve()
            result.setdefault(str(path), set()).update(
                (props.get("DefinitionSubstitutions") or {}).keys()
            )
    return result


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--validator", required=True, help="path to the asl-validator executable")
    ap.add_argument(
        "--template", type=Path, help="SAM template to cross-check DefinitionSubstitutions against"
    )
    ap.add_argument("definitions", nargs="+", type=Path)
    args = ap.parse_args()

    subs = template_substitutions(args.template) if args.template else None
    failed = False
    with tempfile.TemporaryDirectory(prefix="imgflow-asl-") as tmp:
        for definition in args.definitions:
            data = json.loads(definition.read_text(encoding="utf-8"))
            used: set[str] = set()
            resolved = substitute(data, used)
            if subs is not None:
                declared = subs.get(str(definition.resolve()))
                if declared is None:
                    print(
                        f"{definition}: no AWS::Serverless::StateMachine in {args.template} uses it",
                        file=sys.stderr,
                    )
                    failed = True
                else:
                    for name in sorted(used - declared):
                        print(
                            f"{definition}: ${{{name}}} is not in DefinitionSubstitutions",
                            file=sys.stderr,
                        )
                        failed = True
                    for name in sorted(declared - used):
                        print(
                            f"{definition}: warning: DefinitionSubstitutions key {name} is never used",
                            file=sys.stderr,
                        )
            out = Path(tmp) / definition.name
            out.write_text(json.dumps(resolved, indent=2), encoding="utf-8")
            proc = subprocess.run(
                [args.validator, "--json-path", str(out)], capture_output=True, text=True
            )
            text = (proc.stdout + proc.stderr).strip().replace(str(out), str(definition))
            if proc.returncode != 0:
                print(f"{definition}: asl-validator failed:\n{text}", file=sys.stderr)
                failed = True
            else:
                print(f"{definition}: valid ({len(used)} placeholders substituted) {text}".rstrip())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
