"""What a run would cost on AWS: one dated price table and the arithmetic on it.

The inputs are what a local run measures: every Lambda invocation's duration
(imgflow_toolkit.local.workers.Usage), each function's MemorySize and Architecture
from template.yaml, and the executions' histories (state transitions). The
output is the bill of that work in us-east-1, split by service, for the four
deployments a user can choose: Standard or Express workflow, x86_64 or arm64
functions. The model, its assumptions and how to calibrate it: docs/cost.md.

No AWS call is made: this module imports neither boto3 nor moto.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from imgflow_toolkit.cloudformation import REGION  # the region of the prices below
from imgflow_toolkit.executions import history
from imgflow_toolkit.local.template import read_stack

FILE = "cost.json"
WORKFLOWS = ("STANDARD", "EXPRESS")
ARCHITECTURES = ("x86_64", "arm64")


# The price table ------------------------------------------------------------
PRICES_AS_OF = "2026-12-01"


@dataclass(frozen=True)
class Prices:
    """On-demand list prices in USD, first tier, without free tiers or Savings Plans."""

    # https://aws.amazon.com/lambda/pricing/ (Duration, first 6 billion GB-s/month x86,
    # first 7.5 billion arm); x86 also in https://docs.aws.amazon.com/whitepapers/latest/
    # how-aws-pricing-works/lambda.html ("$0.00001667 for every GB-second").
    lambda_gb_second: Mapping[str, float] = field(
        default_factory=lambda: {"x86_64": 0.0000166667, "arm64": 0.0000133334}
    )
    # https://aws.amazon.com/lambda/pricing/ ("$0.20 per 1M requests", both architectures)
    lambda_per_million_requests: float = 0.20
    # https://aws.amazon.com/step-functions/pricing/ (US East (N. Virginia): $0.0250
    # per 1,000 state transitions; "each retry will be charged as an additional state
    # transition"; the 4,000 free transitions a month are ignored)
    standard_per_thousand_transitions: float = 0.025
    # https://aws.amazon.com/step-functions/pricing/ (Express: $1.00 per 1M requests;
    # duration "rounded up to the nearest 100ms", memory "billed in 64-MB chunks",
    # $0.00001667 per GB-second for the first 1,000 GB-hours a month)
    express_per_million_requests: float = 1.00
    express_gb_second: float = 0.00001667
    # https://aws.amazon.com/s3/pricing/ (S3 Standard requests: PUT, COPY, POST, LIST
    # $0.005 per 1,000; GET, SELECT and all other requests, HEAD included, $0.0004 per
    # 1,000; DELETE is free)
    s3_tier1_per_thousand: float = 0.005
    s3_tier2_per_thousand: float = 0.0004
    # https://aws.amazon.com/sns/pricing/ (Standard topics: $0.50 per 1M publishes, each
    # 64 KB chunk one request; the first 1M a month are free: ignored here)
    sns_per_million_publishes: float = 0.50
    # https://aws.amazon.com/eventbridge/pricing/: events AWS services publish to the
    # default bus (S3 "Object Created") are free, rule matching and delivery included.
    eventbridge_aws_service_events: float = 0.0


PRICES = Prices()


# What the code does per invocation --------------------------------------------
@dataclass(frozen=True)
class S3Requests:
    """S3 requests by price tier: tier 1 = PUT/COPY/POST/LIST, tier 2 = GET/HEAD/other."""

    tier1: int = 0
    tier2: int = 0


# Counted from the code paths of src/imgflow/steps through aws/s3.py, for an image
# that is compressed in destination mode (the default); the other paths make fewer
# requests (a skip ends after the HEADs, a kept original writes no staged copy, in
# place there is no duplicate check), so this is an upper bound per invocation.
# tests/workflow/test_cost_requests.py counts the real calls against this table.
S3_REQUESTS_PER_INVOCATION: Mapping[str, S3Requests] = {
    # HEAD the upload, HEAD the result key (duplicate?), GET the upload
    "ValidateImageFunction": S3Requests(tier1=0, tier2=3),
    # GET the upload, PUT the staged result
    "CompressImageFunction": S3Requests(tier1=1, tier2=1),
    "CompressLargeImageFunction": S3Requests(tier1=1, tier2=1),
    # HEAD the result key, HEAD the upload (superseded?), COPY staged -> result;
    # DELETE of the staged copy is free
    "StoreResultFunction": S3Requests(tier1=1, tier2=2),
    # HEAD the upload's version, HEAD the failed key, COPY upload -> failed bucket
    "QuarantineOriginalFunction": S3Requests(tier1=1, tier2=2),
    "NotifyFunction": S3Requests(),
}
# One publish per notify invocation (an upper bound: a duplicate is not published).
SNS_PUBLISHES_PER_INVOCATION: Mapping[str, int] = {"NotifyFunction": 1}


# Inputs ------------------------------------------------------------------------
class InvocationRecord(Protocol):
    """One invocation as measured (imgflow_toolkit.local.workers.Usage has these fields)."""

    function: str  # the function's logical id or its name
    duration_ms: float
    peak_mb: float
    cpu_ms: float | None  # CPU time of the invocation (None: not measured)


@dataclass(frozen=True)
class FunctionConfig:
    logical_id: str
    memory_mb: int
    architecture: str


@dataclass(frozen=True)
class Assumptions:
    """The factors the estimate depends on; docs/cost.md says how to measure each."""

    # Lambda duration = modelled duration x this: how much faster or slower a
    # Lambda core runs our code than this machine's (calibrate: docs/cost.md).
    duration_factor: float = 1.0
    # "cpu": an invocation lasts its CPU time, stretched where Lambda gives the
    # function less than one vCPU, plus the S3 and SNS requests it waits for. It
    # does not change when the local machine is busy. "wall": the local wall
    # time, which includes every wait for a CPU (only quotable on an idle machine).
    duration_basis: str = "cpu"
    # In-region latency of one S3 or SNS request an invocation waits for.
    request_ms: float = 20.0
    # arm64 duration = x86_64 duration x this. Not measured: the arm64 build
    # cannot run on this machine.
    arm_factor: float = 1.0
    # Express bills memory in 64 MB chunks; our payloads are S3 references of a
    # few KB, so the first chunk (AWS returns it as billingDetails).
    express_memory_mb: int = 64
    # Express rounds each execution up to 100 ms: 50 ms on average.
    express_rounding_ms: float = 50.0


@dataclass(frozen=True)
class Conditions:
    """Where the durations were measured. Wall-clock durations include any wait for
    a CPU: more workers than idle cores make every invocation look slower."""

    workers: int  # worker processes per function (imgflow run --concurrency)
    cpus: int
    load_average: float  # 1-minute, at the end of the run

    @property
    def contended(self) -> bool:
        return self.workers > 1 or self.load_average > self.cpus


@dataclass
class WorkflowCounts:
    """A running count of executions and of the state transitions Standard bills."""

    executions: int = 0
    transitions: int = 0
    # A backfill's own: its executions' states and, per object its Distributed Map
    # read, the child workflow execution's (one for the start, then its states).
    # Always Standard: .sync children need a Standard parent, whatever the image
    # workflow's type.
    map_transitions: int = 0

    def add(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Count one execution from its history (GetExecutionHistory events)."""
        self.executions += 1
        self.transitions += billed_transitions(events)

    def add_backfill(self, events: Iterable[Mapping[str, Any]], items: int) -> None:
        """Count a backfill execution from its history, and the ``items`` transitions
        of its map's child workflow executions (which moto does not record)."""
        self.map_transitions += billed_transitions(events) + items


def billed_transitions(events: Iterable[Mapping[str, Any]]) -> int:
    """The state transitions a Standard execution is billed for.

    AWS: "Step Functions counts a state transition each time a step of your
    workflow is executed", and "each retry will be charged as an additional
    state transition" (https://aws.amazon.com/step-functions/pricing/). So:
    every ``*StateEntered`` event, plus every task attempt after a state's first.
    """
    entered = tasks = attempts = 0
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            entered += 1
            tasks += kind == "TaskStateEntered"
        elif kind in ("TaskScheduled", "LambdaFunctionScheduled"):
            attempts += 1
    return entered + max(0, attempts - tasks)


def counts_from_histories(folder: Path) -> WorkflowCounts:
    """The counts of a run's saved executions (DIR/executions/), one file at a time."""
    counts = WorkflowCounts()
    for path in sorted((folder / history.FOLDER).glob("*.json")):
        counts.add(history.SavedExecution.from_json(path.read_text()).events)
    return counts


# Outputs -----------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    """The cost of some images on one deployment, by service (USD)."""

    workflow: str  # STANDARD | EXPRESS
    architecture: str  # x86_64 | arm64
    lambda_compute: float
    lambda_requests: float
    step_functions: float
    s3_requests: float
    sns: float

    @property
    def total(self) -> float:
        return (
            self.lambda_compute
            + self.lambda_requests
            + self.step_functions
            + self.s3_requests
            + self.sns
        )

    def scaled(self, factor: float) -> Line:
        return Line(
            self.workflow,
            self.architecture,
            self.lambda_compute * factor,
            self.lambda_requests * factor,
            self.step_functions * factor,
            self.s3_requests * factor,
            self.sns * factor,
        )


@dataclass(frozen=True)
class FunctionUsage:
    """One function's share of a run: what it was billed on, and what it used."""

    memory_mb: int
    architecture: str
    invocations: int
    billed_ms: int  # x86_64, duration factor applied, each invocation rounded up to 1 ms
    peak_mb: float  # the most one invocation used locally (billing uses memory_mb)

    @property
    def gb_seconds(self) -> float:
        return self.memory_mb / 1024 * self.billed_ms / 1000


@dataclass(frozen=True)
class Estimate:
    """The cost of one run on each of the four deployments, with its inputs."""

    images: int
    executions: int
    transitions: int
    functions: dict[str, FunctionUsage]
    s3: S3Requests
    sns_publishes: int
    assumptions: Assumptions
    lines: list[Line]  # the run, one per (workflow, architecture)
    conditions: Conditions | None = None
    map_transitions: int = 0  # a backfill's own (WorkflowCounts), in every line
    prices_as_of: str = PRICES_AS_OF
    region: str = REGION

    @property
    def invocations(self) -> int:
        return sum(f.invocations for f in self.functions.values())

    @property
    def gb_seconds(self) -> float:
        """Lambda GB-seconds on x86_64 (arm64: times ``assumptions.arm_factor``)."""
        return sum(f.gb_seconds for f in self.functions.values())

    def per_thousand(self) -> list[Line]:
        """The same lines for 1,000 images like these."""
        factor = 1000 / self.images if self.images else 0.0
        return [line.scaled(factor) for line in self.lines]

    def line(self, workflow: str, architecture: str) -> Line:
        return next(
            x for x in self.lines if (x.workflow, x.architecture) == (workflow, architecture)
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["per_1000_images"] = [asdict(x) | {"total": x.total} for x in self.per_thousand()]
        data["lines"] = [asdict(x) | {"total": x.total} for x in self.lines]
        data["invocations"] = self.invocations
        data["lambda_gb_seconds_x86_64"] = self.gb_seconds
        data["prices"] = asdict(PRICES)
        data["s3_requests_per_invocation"] = {
            k: asdict(v) for k, v in S3_REQUESTS_PER_INVOCATION.items()
        }
        data["not_included"] = NOT_INCLUDED
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Estimate:
        line_fields = Line.__dataclass_fields__
        return cls(
            images=data["images"],
            executions=data["executions"],
            transitions=data["transitions"],
            functions={k: FunctionUsage(**v) for k, v in data["functions"].items()},
            s3=S3Requests(**data["s3"]),
            sns_publishes=data["sns_publishes"],
            assumptions=Assumptions(**data["assumptions"]),
            lines=[Line(**{k: v for k, v in x.items() if k in line_fields}) for x in data["lines"]],
            conditions=Conditions(**data["conditions"]) if data.get("conditions") else None,
            map_transitions=data.get("map_transitions", 0),
            prices_as_of=data["prices_as_of"],
            region=data["region"],
        )


NOT_INCLUDED = [
    "S3 storage of results and quarantined originals (per GB-month, not per run)",
    "the upload's own PUT, and data transfer out of AWS",
    "Lambda INIT (cold start) duration and /tmp above 512 MB",
    "CloudWatch Logs ingestion (functions at INFO, state machine at ALL with execution data)",
    "X-Ray traces, KMS requests for the encrypted topic and logs, SNS email deliveries",
    "free tiers (Lambda 1M requests and 400,000 GB-s, Step Functions 4,000 transitions, "
    "SNS 1M publishes a month) and Savings Plans",
]


# The model -------------------------------------------------------------------
def estimate(
    invocations: Iterable[InvocationRecord],
    functions: Mapping[str, FunctionConfig],
    counts: WorkflowCounts,
    images: int,
    assumptions: Assumptions = Assumptions(),
    prices: Prices = PRICES,
    conditions: Conditions | None = None,
) -> Estimate:
    """The cost of these invocations and executions on the four deployments.

    ``functions`` maps each function's logical id and its name to its
    configuration; an invocation of a function not in it is an error.
    Lambda bills each invocation's duration rounded up to 1 ms, at the
    configured MemorySize (not the memory used).
    """
    by_function: dict[str, dict[str, float]] = {}
    for record in invocations:
        config = functions.get(record.function)
        if config is None:
            raise KeyError(f"{record.function}: not a function of the template")
        tally = by_function.setdefault(
            config.logical_id, {"invocations": 0, "billed_ms": 0, "peak_mb": 0.0}
        )
        tally["invocations"] += 1
        modelled = modelled_ms(record, config, assumptions)
        tally["billed_ms"] += math.ceil(modelled * assumptions.duration_factor)
        tally["peak_mb"] = max(tally["peak_mb"], record.peak_mb)
    configs = {c.logical_id: c for c in functions.values()}
    usage = {
        logical: FunctionUsage(
            memory_mb=configs[logical].memory_mb,
            architecture=configs[logical].architecture,
            invocations=int(t["invocations"]),
            billed_ms=int(t["billed_ms"]),
            peak_mb=t["peak_mb"],
        )
        for logical, t in sorted(by_function.items())
    }
    s3 = S3Requests(
        tier1=sum(S3_REQUESTS_PER_INVOCATION[k].tier1 * u.invocations for k, u in usage.items()),
        tier2=sum(S3_REQUESTS_PER_INVOCATION[k].tier2 * u.invocations for k, u in usage.items()),
    )
    publishes = sum(
        SNS_PUBLISHES_PER_INVOCATION.get(k, 0) * u.invocations for k, u in usage.items()
    )
    requests = sum(u.invocations for u in usage.values())
    s3_cost = (
        s3.tier1 * prices.s3_tier1_per_thousand + s3.tier2 * prices.s3_tier2_per_thousand
    ) / 1000
    sns_cost = publishes * prices.sns_per_million_publishes / 1e6
    backfill = counts.map_transitions * prices.standard_per_thousand_transitions / 1000
    lines = []
    for workflow in WORKFLOWS:
        for architecture in ARCHITECTURES:
            scale = assumptions.arm_factor if architecture == "arm64" else 1.0
            gb_seconds = sum(u.gb_seconds for u in usage.values()) * scale
            lambda_seconds = sum(u.billed_ms for u in usage.values()) / 1000 * scale
            if workflow == "STANDARD":
                states = counts.transitions * prices.standard_per_thousand_transitions / 1000
            else:
                # An execution lasts as long as its tasks (one after the other), plus
                # its rounding up to 100 ms; Step Functions' own time per state is not
                # measured locally (moto's is not AWS's).
                seconds = (
                    lambda_seconds + counts.executions * assumptions.express_rounding_ms / 1000
                )
                states = (
                    counts.executions * prices.express_per_million_requests / 1e6
                    + assumptions.express_memory_mb / 1024 * seconds * prices.express_gb_second
                )
            lines.append(
                Line(
                    workflow=workflow,
                    architecture=architecture,
                    lambda_compute=gb_seconds * prices.lambda_gb_second[architecture],
                    lambda_requests=requests * prices.lambda_per_million_requests / 1e6,
                    step_functions=states + backfill,
                    s3_requests=s3_cost,
                    sns=sns_cost,
                )
            )
    return Estimate(
        images=images,
        executions=counts.executions,
        transitions=counts.transitions,
        map_transitions=counts.map_transitions,
        functions=usage,
        s3=s3,
        sns_publishes=publishes,
        assumptions=assumptions,
        lines=lines,
        conditions=conditions,
    )


# "at 1,769 MB, a function has the equivalent of one vCPU" (Configure Lambda function
# memory, docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
LAMBDA_MB_PER_VCPU = 1769


def modelled_ms(
    record: InvocationRecord, config: FunctionConfig, assumptions: Assumptions
) -> float:
    """How long the invocation would last on Lambda, before the duration factor.

    On the "cpu" basis: its CPU time, times 1,769 / MemorySize when that gives
    less than one vCPU (our code is single-threaded, so more than one vCPU does
    not help it), plus the requests it makes at ``request_ms`` each. Without a
    CPU time (a worker that died), the wall time.
    """
    cpu = getattr(record, "cpu_ms", None)
    if assumptions.duration_basis == "wall" or cpu is None:
        return record.duration_ms
    if assumptions.duration_basis != "cpu":
        raise ValueError(f"unknown duration basis {assumptions.duration_basis!r}")
    stretch = max(1.0, LAMBDA_MB_PER_VCPU / config.memory_mb)
    s3 = S3_REQUESTS_PER_INVOCATION.get(config.logical_id, S3Requests())
    requests = s3.tier1 + s3.tier2 + SNS_PUBLISHES_PER_INVOCATION.get(config.logical_id, 0)
    return cpu * stretch + requests * assumptions.request_ms


def function_configs(
    template: Path, parameters: Mapping[str, str] | None = None
) -> dict[str, FunctionConfig]:
    """Each function's MemorySize and Architecture from template.yaml, by logical id and name."""
    stack = read_stack(template, dict(parameters or {}))
    configs: dict[str, FunctionConfig] = {}
    for spec in stack.functions.values():
        config = FunctionConfig(spec.logical_id, spec.memory, spec.architecture)
        configs[spec.logical_id] = configs[spec.name] = config
    return configs


def estimate_run(
    invocations: Iterable[InvocationRecord],
    template: Path,
    parameters: Mapping[str, str] | None,
    counts: WorkflowCounts,
    images: int,
    assumptions: Assumptions = Assumptions(),
    conditions: Conditions | None = None,
) -> Estimate:
    """The estimate of a run: its invocations, the template it ran, its executions."""
    configs = function_configs(template, parameters)
    return estimate(invocations, configs, counts, images, assumptions, PRICES, conditions)


def save(folder: Path, result: Estimate) -> Path:
    """Write ``folder/cost.json``."""
    target = folder / FILE
    target.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return target


def load(folder: Path) -> Estimate:
    """The estimate ``save`` wrote."""
    return Estimate.from_dict(json.loads((folder / FILE).read_text()))


# The terminal ---------------------------------------------------------------
def format_money(value: float) -> str:
    """Dollars to the hundredth of a cent; what rounds to zero but is not, as "<$0.0001"."""
    return f"${value:,.4f}" if value >= 0.00005 or value == 0 else "<$0.0001"


_BASIS = {
    "cpu": "CPU time, x 1,769 MB / MemorySize below one vCPU, + {a.request_ms:g} ms per "
    "S3/SNS request",
    "wall": "local wall time",
}


def format_cost_table(result: Estimate) -> str:
    """The four deployments: per 1,000 images by service, and the run's total, as text."""
    head = [
        "workflow",
        "arch",
        "Lambda",
        "Lambda req",
        "Step Functions",
        "S3",
        "SNS",
        "total",
        f"this run ({result.images})",
    ]
    rows = [
        [
            per.workflow,
            per.architecture,
            format_money(per.lambda_compute),
            format_money(per.lambda_requests),
            format_money(per.step_functions),
            format_money(per.s3_requests),
            format_money(per.sns),
            format_money(per.total),
            format_money(run.total),
        ]
        for per, run in zip(result.per_thousand(), result.lines, strict=True)
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def fmt(row: list[str]) -> str:
        cells = [
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    a = result.assumptions
    lines = [
        f"estimated AWS cost per 1,000 images, by service ({result.region}, prices of "
        f"{result.prices_as_of}; docs/cost.md)",
        fmt(head),
        fmt(["-" * w for w in widths]),
        *(fmt(r) for r in rows),
        "",
        f"from {result.invocations} Lambda invocations ({result.gb_seconds:,.1f} GB-s at the "
        f"template's MemorySize), {result.executions} executions,",
        f"{result.transitions} state transitions, {result.s3.tier1} S3 PUT/COPY + "
        f"{result.s3.tier2} GET/HEAD, {result.sns_publishes} SNS publishes;",
        *(
            [
                f"and the backfill's {result.map_transitions} Standard transitions in every "
                "row (its Distributed Map's child workflow per object, and its own states);"
            ]
            if result.map_transitions
            else []
        ),
        f"durations: {_BASIS[a.duration_basis].format(a=a)}; duration factor "
        f"{a.duration_factor:g}, arm64 factor {a.arm_factor:g} (not measured); free tiers not "
        "deducted",
    ]
    c = result.conditions
    if a.duration_basis == "wall" and c is not None and c.contended:
        lines += [
            f"measured with {c.workers} worker(s) per function on {c.cpus} CPU(s), load average "
            f"{c.load_average:.1f}: durations include waiting for a CPU;",
            "for a figure to quote, run with --concurrency 1 on an idle machine",
        ]
    return "\n".join(lines)
