"""The backfill state machine against the template: same filter as the upload rule,
the contract's input for every image, and the permissions a Distributed Map needs.

Resolved with imgflow_toolkit.local.template, as CloudFormation would with these
parameters; tools/checks.mk runs asl-validator, cfn-lint and checkov on it too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from imgflow_toolkit.cloudformation import ACCOUNT, REGION, load_yaml, read_resources
from imgflow_toolkit.local.template import read_stack

MAP = "Process every object"
FILTER = "Would the upload rule match it?"
TASK = "Run the image workflow"


@pytest.fixture(scope="module")
def asl(repo) -> dict[str, Any]:
    return json.loads((repo / "statemachine/backfill.asl.json").read_text())


def processor(definition: dict[str, Any]) -> dict[str, Any]:
    return definition["States"][MAP]["ItemProcessor"]


def key_patterns(definition: dict[str, Any]) -> list[str]:
    (rule,) = processor(definition)["States"][FILTER]["Choices"]
    assert all(c["Variable"] == "$.source.key" for c in rule["Or"])
    return [c["StringMatches"] for c in rule["Or"]]


def test_the_backfill_filter_is_the_upload_rule_pattern_for_pattern(repo, asl):
    template = load_yaml(repo / "template.yaml")
    machine = template["Resources"]["ImageWorkflow"]["Properties"]
    rule_keys = machine["Events"]["ImageUploaded"]["Properties"]["Pattern"]["detail"]["object"]
    upload = [p["wildcard"]["Fn::Sub"] for p in rule_keys["key"]]
    backfill = [p.replace("${ImageKeyPrefix}", "${KeyPrefix}") for p in key_patterns(asl)]
    assert backfill == upload
    substitutions = template["Resources"]["BackfillWorkflow"]["Properties"][
        "DefinitionSubstitutions"
    ]
    # The same KeyPrefix, with the "+" that stands for a space in S3's events decoded.
    assert substitutions["ImageKeyPrefix"] == {
        "Fn::Join": [" ", {"Fn::Split": ["+", {"Ref": "KeyPrefix"}]}]
    }


@pytest.mark.parametrize(
    "key_prefix, listed_prefix", [("", ""), ("photos/", "photos/"), ("my+photos/", "my photos/")]
)
def test_the_prefix_listed_and_matched_is_keyprefix_as_s3_lists_it(repo, key_prefix, listed_prefix):
    stack = read_stack(repo / "template.yaml", {"KeyPrefix": key_prefix})
    definition = json.loads(stack.backfill.definition)
    assert definition["States"]["Settings"]["Parameters"]["defaults"]["prefix"] == listed_prefix
    assert all(p.startswith(listed_prefix + "*.") for p in key_patterns(definition))


def test_each_image_runs_the_image_workflow_with_the_contracts_input(repo):
    stack = read_stack(repo / "template.yaml")
    definition = json.loads(stack.backfill.definition)
    assert "${" not in stack.backfill.definition
    state = definition["States"][MAP]
    assert state["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert state["ItemReader"]["Parameters"]["Bucket"] == stack.outputs["SourceBucketName"]
    assert state["ItemSelector"] == {
        "source": {
            "bucket": stack.outputs["SourceBucketName"],
            "key.$": "$$.Map.Item.Value.Key",
            "etag.$": "$$.Map.Item.Value.ETag",
            "size.$": "$$.Map.Item.Value.Size",
        }
    }
    assert processor(definition)["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",  # .sync needs a Standard parent
    }
    task = processor(definition)["States"][TASK]
    assert task["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    assert task["Parameters"]["StateMachineArn"] == stack.state_machine.arn
    assert task["Parameters"]["Input"]["source.$"] == "$.source"
    # A failed image fails its item (counted against the tolerance), never retried here:
    # its own execution already quarantined it.
    assert not any("States.TaskFailed" in r["ErrorEquals"] for r in task.get("Retry", []))
    assert "Catch" not in task


def test_concurrency_tolerance_and_results_come_from_the_template(repo):
    stack = read_stack(
        repo / "template.yaml",
        {"BackfillMaxConcurrency": "40", "BackfillToleratedFailurePercentage": "2"},
    )
    definition = json.loads(stack.backfill.definition)
    defaults = definition["States"]["Settings"]["Parameters"]["defaults"]
    assert defaults["maxConcurrency.$"] == "States.StringToJson('40')"
    assert defaults["toleratedFailurePercentage.$"] == "States.StringToJson('2')"
    state = definition["States"][MAP]
    assert state["MaxConcurrencyPath"] == "$.maxConcurrency"
    assert state["ToleratedFailurePercentagePath"] == "$.toleratedFailurePercentage"
    assert state["ResultWriter"]["Parameters"] == {
        "Bucket": stack.buckets["FailedBucket"],
        "Prefix": "backfill-results",
    }


def _grants(resources: dict[str, Any]) -> dict[str, list[str]]:
    """action -> resources, over the backfill role's statements."""
    props = resources["BackfillWorkflow"]["Properties"]
    grants: dict[str, list[str]] = {}
    for policy in props["Policies"]:
        for statement in policy["Statement"]:
            targets = statement["Resource"]
            for action in statement["Action"]:
                grants.setdefault(action, []).extend(
                    targets if isinstance(targets, list) else [targets]
                )
    return grants


@pytest.mark.parametrize(
    "parameters, source",
    [({}, "imgflow-sourcebucket"), ({"ExistingSourceBucket": "cms-uploads"}, "cms-uploads")],
    ids=["created-bucket", "existing-bucket"],
)
def test_the_backfill_role_has_what_a_distributed_map_of_sync_children_needs(
    repo, parameters, source
):
    grants = _grants(read_resources(repo / "template.yaml", parameters))
    image = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:imgflow-ImageWorkflow"
    backfill = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:imgflow-backfill"
    assert grants["s3:ListBucket"] == [f"arn:aws:s3:::{source}"]
    assert sorted(grants["states:StartExecution"]) == sorted([image, backfill])
    for action in ("states:DescribeExecution", "states:StopExecution"):
        assert sorted(grants[action]) == sorted(
            [
                f"arn:aws:states:{REGION}:{ACCOUNT}:execution:imgflow-ImageWorkflow:*",
                f"arn:aws:states:{REGION}:{ACCOUNT}:execution:imgflow-backfill/*",
            ]
        )
    for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
        assert all(
            arn.startswith(f"arn:aws:events:{REGION}:{ACCOUNT}:rule/StepFunctionsGetEventsFor")
            for arn in grants[action]
        )
    assert grants["s3:PutObject"] == ["arn:aws:s3:::imgflow-failedbucket/backfill-results/*"]
    # Reading originals is the image workflow's job: the backfill only lists.
    assert "s3:GetObject" not in grants or all(
        a.startswith("arn:aws:s3:::imgflow-failedbucket/backfill-results/")
        for a in grants["s3:GetObject"]
    )


INVENTORY_MAP = "Process every object of the inventory"
CSV_MAP = "Process every object of the CSV list"


def test_a_manifests_items_pass_the_upload_rule_itself_on_their_encoded_keys(repo, asl):
    template = load_yaml(repo / "template.yaml")
    machine = template["Resources"]["ImageWorkflow"]["Properties"]
    rule_keys = machine["Events"]["ImageUploaded"]["Properties"]["Pattern"]["detail"]["object"]
    upload = [p["wildcard"]["Fn::Sub"] for p in rule_keys["key"]]
    processor = asl["States"][INVENTORY_MAP]["ItemProcessor"]
    (rule,) = processor["States"][processor["StartAt"]]["Choices"]
    same_bucket, patterns = rule["And"]
    assert same_bucket == {
        "Variable": "$.manifestItem.Bucket",
        "StringEquals": "${SourceBucketName}",
    }
    assert all(c["Variable"] == "$.manifestItem.Key" for c in patterns["Or"])
    encoded = [
        c["StringMatches"].replace("${EncodedKeyPrefix}", "${KeyPrefix}") for c in patterns["Or"]
    ]
    assert encoded == upload
    substitutions = template["Resources"]["BackfillWorkflow"]["Properties"][
        "DefinitionSubstitutions"
    ]
    assert substitutions["EncodedKeyPrefix"] == {"Ref": "KeyPrefix"}


def unnamed(processor: dict[str, Any], label: str) -> dict[str, Any]:
    """A manifest map's processor with its states' names in the listing's terms: names
    are unique in a state machine, so each map's carry its label."""
    text = json.dumps(processor)
    for name in (FILTER, "Not an image", TASK):
        text = text.replace(f'"{label} {name[0].lower()}{name[1:]}"', f'"{name}"')
    return json.loads(text)


def test_the_inventory_and_the_csv_list_share_one_item_processor(asl):
    # The ASL cannot name a processor twice, so it is written twice: this keeps them one.
    inventory, csv_list = asl["States"][INVENTORY_MAP], asl["States"][CSV_MAP]
    shared = unnamed(inventory["ItemProcessor"], "Inventory row:")
    assert shared == unnamed(csv_list["ItemProcessor"], "CSV row:")
    assert set(shared["States"]) == {FILTER, "Not an image", TASK}
    assert {
        k: v for k, v in inventory.items() if k not in ("Comment", "ItemReader", "ItemProcessor")
    } == {k: v for k, v in csv_list.items() if k not in ("Comment", "ItemReader", "ItemProcessor")}
    task = shared["States"][TASK]
    listing_task = processor(asl)["States"][TASK]
    assert task["Parameters"]["Input"]["manifestItem.$"] == "$.manifestItem"
    assert {k: v for k, v in task.items() if k not in ("Comment", "Parameters")} == {
        k: v for k, v in listing_task.items() if k not in ("Comment", "Parameters")
    }
    assert inventory["ItemReader"]["ReaderConfig"] == {"InputType": "MANIFEST"}
    assert csv_list["ItemReader"]["ReaderConfig"] == {
        "InputType": "CSV",
        "CSVHeaderLocation": "GIVEN",
        "CSVHeaders": ["Bucket", "Key"],
    }


def test_state_names_are_unique_in_the_whole_state_machine(asl):
    # AWS (and asl-validator) refuse a name used twice, nested processors included.
    names: list[str] = []

    def collect(states: dict[str, Any]) -> None:
        for name, state in states.items():
            names.append(name)
            collect(state.get("ItemProcessor", {}).get("States", {}))

    collect(asl["States"])
    assert len(names) == len(set(names))


def test_the_role_reads_manifests_only_under_backfillmanifestlocation(repo):
    none = _grants(read_resources(repo / "template.yaml"))
    assert all("backfill-results/" in arn for arn in none.get("s3:GetObject", []))
    given = _grants(
        read_resources(repo / "template.yaml", {"BackfillManifestLocation": "inventory/cms/"})
    )
    assert "arn:aws:s3:::inventory/cms/*" in given["s3:GetObject"]
