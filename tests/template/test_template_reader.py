"""One reader of template.yaml serves the local runtime, the build check and the ASL check.

imgflow_toolkit.cloudformation is imported by the runtime from the installed
toolkit and by tools/check_build.py and tools/validate_asl.py from the source
tree, in venvs that hold PyYAML but not the toolkit: these tests keep it
importable there and show that each consumer gets what it needs from it.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from imgflow_toolkit import cloudformation
from imgflow_toolkit.cloudformation import ACCOUNT, REGION, Resolver, load_yaml
from imgflow_toolkit.local.template import read_stack

ROOT = Path(__file__).resolve().parents[2]
READER = ROOT / "toolkit" / "imgflow_toolkit" / "cloudformation.py"
# The existing-bucket variant the checks also scan (tools/checks.mk CHECKS_EXISTING_DEFAULTS).
EXISTING = {
    "ExistingSourceBucket": "example-existing-bucket",
    "SourceBucketKmsKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/"
    "1234abcd-12ab-34cd-56ef-1234567890ab",
    "InPlace": "true",
    "BackfillManifestLocation": "example-inventory-bucket/imgflow/",
}


def _tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def template() -> dict:
    return load_yaml(ROOT / "template.yaml")


def test_the_reader_imports_only_the_standard_library_and_pyyaml():
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(ast.parse(READER.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported - set(sys.stdlib_module_names) - {"__future__"} == {"yaml"}


@pytest.mark.parametrize("tool", ["check_build", "validate_asl"])
def test_the_tools_import_the_reader_without_the_toolkit_installed(tool):
    # -S: no site-packages, so no installed (editable) toolkit; PyYAML alone is put back,
    # as the tools' venvs have it; check_build also needs packaging, as aws-sam-cli's has.
    import packaging

    paths = sorted({str(Path(m.__file__).parents[1]) for m in (yaml, packaging)})
    code = (
        "import runpy, sys\n"
        f"sys.path[:0] = {paths!r}\n"
        f"runpy.run_path({str(ROOT / 'tools' / tool) + '.py'!r})\n"
        "reader = sys.modules['imgflow_toolkit.cloudformation']\n"
        "print(reader.__file__, 'imgflow' in sys.modules, 'moto' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(READER), "False", "False"]


def test_the_build_check_gets_every_function_environment_the_local_stack_runs_with(template):
    check_build = _tool("check_build")
    resolver = Resolver(template)
    functions = read_stack(ROOT / "template.yaml").functions
    for logical, spec in template["Resources"].items():
        if spec["Type"] != "AWS::Serverless::Function":
            continue
        env = check_build.function_environment(resolver, logical)
        # Every variable resolves to a value of its own: no placeholder reaches a handler.
        assert env and not [v for v in env.values() if "arn:aws:local:" in v or "{" in v], env
        if logical in functions:  # condition-false functions are built and imported too
            assert env == functions[logical].environment


def test_the_build_check_resolves_what_cloudformation_would(template):
    check_build = _tool("check_build")
    env = check_build.function_environment(Resolver(template, EXISTING), "StoreResultFunction")
    assert env["SOURCE_BUCKET"] == env["DESTINATION_BUCKET"] == "example-existing-bucket"
    assert env["TOPIC_ARN"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:imgflow-NotificationTopic"
    assert env["IN_PLACE"] == "true"
    assert env["STAGING_PREFIX"] == "_imgflow-staging/"  # !FindInMap


def test_the_asl_check_and_the_local_stack_substitute_the_same_placeholders(template):
    validate_asl = _tool("validate_asl")
    declared = validate_asl.template_substitutions(ROOT / "template.yaml")
    stack = read_stack(ROOT / "template.yaml")
    for logical, machine in stack.state_machines.items():
        path = str((ROOT / template["Resources"][logical]["Properties"]["DefinitionUri"]).resolve())
        used: set[str] = set()
        validate_asl.substitute(json.loads(Path(path).read_text()), used)
        assert used == declared[path], logical
        # The local stack replaced every one of them with the template's value.
        assert "${" not in machine.definition


def test_pseudo_parameters_and_arns_name_one_region_and_account(template):
    resolver = Resolver(template)
    assert (
        resolver.resolve({"Fn::Sub": "${AWS::Region}:${AWS::AccountId}"}) == f"{REGION}:{ACCOUNT}"
    )
    stack = read_stack(ROOT / "template.yaml")
    assert stack.state_machine.arn.split(":")[3:5] == [REGION, ACCOUNT]
    assert stack.functions["StoreResultFunction"].arn.split(":")[3:5] == [REGION, ACCOUNT]


def test_a_ref_to_a_resource_whose_condition_is_false_is_an_error(template):
    with pytest.raises(cloudformation.TemplateError, match="Condition is false"):
        Resolver(template, EXISTING).resolve({"Ref": "SourceBucket"})


def test_the_upload_rule_carries_the_templates_retry_policy_and_dead_letter_queue(template):
    event = template["Resources"]["ImageWorkflow"]["Properties"]["Events"]["ImageUploaded"]
    stack = read_stack(ROOT / "template.yaml")
    (rule,) = stack.state_machine.rules
    assert rule.retry_policy == event["Properties"]["RetryPolicy"]
    assert rule.retry_policy == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10}
    # !GetAtt DeadLetterQueue.Arn: the ARN of the queue the local stack creates.
    name = stack.queues["DeadLetterQueue"]
    assert rule.dead_letter_config == {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"}
