"""The cost model: hand-computed bills, transitions from real histories, the template's sizes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from imgflow_toolkit.executions import history
from imgflow_toolkit.local.template import read_stack
from imgflow_toolkit.report import cost

DATA = Path(__file__).resolve().parents[1] / "data" / "histories"
COMPRESS = cost.FunctionConfig("CompressImageFunction", 2048, "x86_64")
LIGHT = {
    name: cost.FunctionConfig(name, 1024, "x86_64")
    for name in ("ValidateImageFunction", "StoreResultFunction", "NotifyFunction")
}
FUNCTIONS = {"CompressImageFunction": COMPRESS, **LIGHT}


@dataclass(frozen=True)
class Invocation:
    function: str
    duration_ms: float
    peak_mb: float = 100.0
    cpu_ms: float | None = None  # None: the wall time is billed


def thousand_compressions(duration_ms: float = 1000.0) -> list[Invocation]:
    return [Invocation("CompressImageFunction", duration_ms) for _ in range(1000)]


def test_thousand_invocations_of_one_second_at_2048_mb_bill_2000_gb_seconds():
    result = cost.estimate(thousand_compressions(), FUNCTIONS, cost.WorkflowCounts(), 1000)
    assert result.gb_seconds == pytest.approx(2000.0)
    x86 = result.line("STANDARD", "x86_64")
    arm = result.line("STANDARD", "arm64")
    assert x86.lambda_compute == pytest.approx(2000 * 0.0000166667)  # $0.0333334
    assert arm.lambda_compute == pytest.approx(2000 * 0.0000133334)  # $0.0266668
    assert x86.lambda_requests == pytest.approx(1000 * 0.20 / 1_000_000)  # $0.0002


def test_billing_uses_the_configured_memory_not_the_peak():
    light = [Invocation("CompressImageFunction", 1000.0, peak_mb=120.0)]
    result = cost.estimate(light, FUNCTIONS, cost.WorkflowCounts(), 1)
    assert result.gb_seconds == pytest.approx(2.0)  # 2,048 MB x 1 s, not 120 MB
    assert result.functions["CompressImageFunction"].peak_mb == 120.0


def test_each_invocation_is_rounded_up_to_the_millisecond():
    two = [Invocation("NotifyFunction", 0.2), Invocation("NotifyFunction", 1.0001)]
    result = cost.estimate(two, FUNCTIONS, cost.WorkflowCounts(), 1)
    assert result.functions["NotifyFunction"].billed_ms == 1 + 2


def test_duration_and_arm_factors_scale_the_billed_time():
    factors = cost.Assumptions(duration_factor=1.5, arm_factor=0.8)
    result = cost.estimate(thousand_compressions(), FUNCTIONS, cost.WorkflowCounts(), 1000, factors)
    assert result.functions["CompressImageFunction"].billed_ms == 1000 * 1500
    assert result.line("STANDARD", "x86_64").lambda_compute == pytest.approx(3000 * 0.0000166667)
    assert result.line("STANDARD", "arm64").lambda_compute == pytest.approx(
        3000 * 0.8 * 0.0000133334
    )


def test_standard_bills_transitions_and_express_requests_and_64_mb_duration():
    counts = cost.WorkflowCounts(executions=1000, transitions=8000)
    result = cost.estimate(thousand_compressions(), FUNCTIONS, counts, 1000)
    assert result.line("STANDARD", "x86_64").step_functions == pytest.approx(8000 * 0.025 / 1000)
    # 1,000 requests at $1/M, plus 64 MB for 1,000 x (1 s of tasks + 50 ms of rounding)
    express = 1000 * 1.0 / 1_000_000 + 0.0625 * 1000 * 1.05 * 0.00001667
    assert result.line("EXPRESS", "x86_64").step_functions == pytest.approx(express)


def test_a_backfills_own_transitions_are_standard_in_every_deployment():
    # The Distributed Map's child workflow per object and the parent's states: a .sync
    # child needs a Standard parent, so even the Express rows pay them as transitions.
    counts = cost.WorkflowCounts(executions=1000, transitions=8000)
    plain = cost.estimate(thousand_compressions(), FUNCTIONS, counts, 1000)
    counts.add_backfill([{"type": "PassStateEntered"}] * 4, 1000 * 3)
    assert counts.map_transitions == 3004
    backfill = cost.estimate(thousand_compressions(), FUNCTIONS, counts, 1000)
    for before, after in zip(plain.lines, backfill.lines, strict=True):
        assert after.step_functions - before.step_functions == pytest.approx(3004 * 0.025 / 1000)
    assert "the backfill's 3004 Standard transitions" in cost.format_cost_table(backfill)
    assert cost.Estimate.from_dict(backfill.to_dict()).map_transitions == 3004


def test_on_the_cpu_basis_a_busy_machine_does_not_change_the_bill():
    """Same CPU time, three times the wall time: the bill follows the CPU time."""
    idle = [Invocation("CompressImageFunction", 1000.0, cpu_ms=900.0)]
    busy = [Invocation("CompressImageFunction", 3000.0, cpu_ms=900.0)]
    bills = [cost.estimate(x, FUNCTIONS, cost.WorkflowCounts(), 1) for x in (idle, busy)]
    # 900 ms of CPU at 2,048 MB (more than one vCPU: no stretch) + 2 S3 requests x 20 ms
    assert [b.functions["CompressImageFunction"].billed_ms for b in bills] == [940, 940]
    wall = cost.Assumptions(duration_basis="wall")
    assert (
        cost.estimate(busy, FUNCTIONS, cost.WorkflowCounts(), 1, wall)
        .functions["CompressImageFunction"]
        .billed_ms
        == 3000
    )


def test_below_one_vcpu_the_cpu_time_is_stretched_by_the_memory_share():
    # 1,024 MB is 1,024 / 1,769 of a vCPU: 100 ms of CPU take 172.75 ms, plus the
    # validate step's 3 S3 requests at 20 ms.
    validate = [Invocation("ValidateImageFunction", 500.0, cpu_ms=100.0)]
    result = cost.estimate(validate, FUNCTIONS, cost.WorkflowCounts(), 1)
    assert result.functions["ValidateImageFunction"].billed_ms == math.ceil(
        100.0 * 1769 / 1024 + 3 * 20
    )


def test_s3_requests_and_sns_publishes_follow_the_invocations():
    one_image = [
        Invocation("ValidateImageFunction", 100),
        Invocation("CompressImageFunction", 1000),
        Invocation("StoreResultFunction", 100),
        Invocation("NotifyFunction", 100),
    ]
    result = cost.estimate(one_image, FUNCTIONS, cost.WorkflowCounts(1, 8), 1)
    assert result.s3 == cost.S3Requests(tier1=2, tier2=6)  # PUT + COPY; 4 HEAD + 2 GET
    assert result.sns_publishes == 1
    line = result.line("STANDARD", "x86_64")
    assert line.s3_requests == pytest.approx((2 * 0.005 + 6 * 0.0004) / 1000)
    assert line.sns == pytest.approx(0.50 / 1_000_000)


def test_per_thousand_images_scales_the_run():
    result = cost.estimate(thousand_compressions(), FUNCTIONS, cost.WorkflowCounts(5, 40), 5)
    for run, per in zip(result.lines, result.per_thousand(), strict=True):
        assert per.total == pytest.approx(run.total * 200)


def test_an_invocation_of_an_unknown_function_is_an_error():
    with pytest.raises(KeyError, match="ResizeFunction"):
        cost.estimate([Invocation("ResizeFunction", 1)], FUNCTIONS, cost.WorkflowCounts(), 1)


def test_a_retried_task_is_billed_as_one_more_transition():
    # Validate (throttled once, then ImageTooLargeError), quarantine, notify, Fail.
    events = json.loads((DATA / "image-too-large.history.json").read_text())["events"]
    entered = [e for e in events if e["type"].endswith("StateEntered")]
    assert len(entered) == 4
    assert cost.billed_transitions(events) == 4 + 1


def test_transitions_are_counted_from_a_run_folders_saved_histories(tmp_path, repo):
    events = json.loads((DATA / "image-too-large.history.json").read_text())["events"]
    description = json.loads((DATA / "image-too-large.describe-execution.json").read_text())
    definition = json.loads((repo / "statemachine/compress_image.asl.json").read_text())
    history.save(tmp_path, history.SavedExecution(description, definition, events))
    assert cost.counts_from_histories(tmp_path) == cost.WorkflowCounts(executions=1, transitions=5)


def test_the_templates_memory_sizes_and_architectures_are_the_ones_billed(repo):
    template = repo / "template.yaml"
    configs = cost.function_configs(template)
    stack = read_stack(template)
    for spec in stack.functions.values():
        by_id, by_name = configs[spec.logical_id], configs[spec.name]
        assert by_id == by_name == cost.FunctionConfig(spec.logical_id, spec.memory, "x86_64")
    assert configs["CompressImageFunction"].memory_mb == 2048
    assert configs["CompressLargeImageFunction"].memory_mb == 7168  # LargeImageMemorySize
    assert configs["ValidateImageFunction"].memory_mb == 1024  # Globals
    larger = cost.function_configs(template, {"LargeImageMemorySize": "10240"})
    assert larger["CompressLargeImageFunction"].memory_mb == 10240
    one_second = [Invocation(stack.functions["CompressLargeImageFunction"].name, 1000.0)]
    result = cost.estimate(one_second, larger, cost.WorkflowCounts(), 1)
    assert result.gb_seconds == pytest.approx(10.0)  # 10,240 MB x 1 s


def test_every_function_of_the_template_has_its_s3_requests_counted(repo):
    functions = set(read_stack(repo / "template.yaml").functions)
    assert set(cost.S3_REQUESTS_PER_INVOCATION) == functions


def test_the_price_table_is_dated_and_complete():
    assert date.fromisoformat(cost.PRICES_AS_OF) <= date.today()
    assert set(cost.PRICES.lambda_gb_second) == set(cost.ARCHITECTURES)
    assert cost.PRICES.lambda_gb_second["arm64"] < cost.PRICES.lambda_gb_second["x86_64"]


def test_cost_json_round_trips_and_the_table_shows_four_deployments(tmp_path):
    counts = cost.WorkflowCounts(executions=1000, transitions=8000)
    busy = cost.Conditions(workers=2, cpus=2, load_average=4.6)
    wall = cost.Assumptions(duration_basis="wall")
    result = cost.estimate(thousand_compressions(), FUNCTIONS, counts, 1000, wall, conditions=busy)
    cost.save(tmp_path, result)
    assert cost.load(tmp_path) == result
    saved = json.loads((tmp_path / cost.FILE).read_text())
    assert saved["prices_as_of"] == cost.PRICES_AS_OF
    assert saved["lambda_gb_seconds_x86_64"] == pytest.approx(2000.0)
    table = cost.format_cost_table(result)
    rows = [line.split() for line in table.splitlines() if line.startswith(("STANDARD", "EXPRESS"))]
    assert [r[:2] for r in rows] == [
        ["STANDARD", "x86_64"],
        ["STANDARD", "arm64"],
        ["EXPRESS", "x86_64"],
        ["EXPRESS", "arm64"],
    ]
    # Lambda compute per 1,000 images on STANDARD x86_64: 2,000 GB-s x $0.0000166667
    assert rows[0][2] == "$0.0333"
    assert rows[0][4] == "$0.2000"  # 8,000 transitions
    assert "load average 4.6: durations include waiting for a CPU" in table
    on_cpu = cost.estimate(thousand_compressions(), FUNCTIONS, counts, 1000, conditions=busy)
    assert "waiting for a CPU" not in cost.format_cost_table(on_cpu), "CPU time does not wait"


def test_money_reads_to_the_hundredth_of_a_cent():
    assert cost.format_money(0.2097) == "$0.2097"
    assert cost.format_money(0.0) == "$0.0000"
    assert cost.format_money(0.0000686) == "$0.0001"
    assert cost.format_money(0.0000186) == "<$0.0001"


def test_an_idle_single_worker_run_is_not_flagged_as_contended():
    assert not cost.Conditions(workers=1, cpus=2, load_average=0.9).contended
    assert cost.Conditions(workers=1, cpus=2, load_average=2.5).contended
    assert cost.Conditions(workers=2, cpus=2, load_average=0.5).contended


def test_a_runs_cost_json_counts_the_transitions_of_its_saved_histories(sample_run):
    saved = json.loads((sample_run / cost.FILE).read_text())
    report = json.loads((sample_run / "report.json").read_text())
    counts = cost.counts_from_histories(sample_run)
    assert (saved["executions"], saved["transitions"]) == (counts.executions, counts.transitions)
    assert saved["executions"] == len(report) and saved["images"] == len(report)
    assert saved["lambda_gb_seconds_x86_64"] > 0


def test_the_cost_model_imports_no_aws_sdk():
    code = (
        "import sys, imgflow_toolkit.report.cost; "
        "print(sorted({'boto3', 'botocore', 'moto'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
