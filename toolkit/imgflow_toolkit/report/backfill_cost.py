"""What a backfill would cost on AWS, before it runs: from counts, not measurements.

``imgflow run`` bills what it measured (imgflow_toolkit.report.cost). A backfill is
planned from a listing: how many objects, how many of them images, how many
megapixels. The arithmetic is imgflow_toolkit.report.cost's (same price table, same
Lambda and Express model); what this module adds is the work per image:

- the states each execution enters, walked on the ASL itself (the image
  workflow's main path, or its path to "Skipped" for an image already done;
  the Distributed Map's: one transition per child execution it starts, plus
  the states of that child), so a change to either definition changes the
  estimate;
- each Lambda invocation on that path, at the template's MemorySize, for a
  duration: the compress step at the benchmark's CPU seconds per megapixel
  (docs/benchmark.md), the light steps at what local runs of the samples
  measured.

docs/backfill.md gives the sources. No AWS call: neither boto3 nor moto.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgflow.backfill import MAP_STATE
from imgflow_toolkit.local.template import read_stack
from imgflow_toolkit.report import cost

IMAGE_ASL = "statemachine/compress_image.asl.json"
BACKFILL_ASL = "statemachine/backfill.asl.json"
RUN_IMAGE_WORKFLOW = "Run the image workflow"
NOT_AN_IMAGE = "Not an image"
SKIPPED = "Skipped"
COMPRESS_LARGE = "Compress large image"


@dataclass(frozen=True)
class Assumptions:
    """The per-image figures a plan rests on (docs/backfill.md says where each is from)."""

    # docs/benchmark.md, sixth run (2026-12-03): median CPU s/MP of compress() in
    # the default lossy mode over 67 JPEGs, the corpus's 14 and 53 photographs
    # outside it (0.53 and 0.57 on each), on an idle machine; single-threaded, so at
    # 2,048 MB (about one vCPU) the Lambda duration is the CPU time.
    compress_seconds_per_megapixel: float = 0.55
    # Mean duration of the light steps, ms: `imgflow run samples` (cost.json,
    # November 2026: validate 174, store 116, notify 174, on a loaded 2-core machine).
    step_ms: Mapping[str, float] = field(
        default_factory=lambda: {
            "ValidateImageFunction": 174.0,
            "StoreResultFunction": 116.0,
            "NotifyFunction": 174.0,
        }
    )
    # Validate on an image already done: two HEADs, no download.
    skip_validate_ms: float = 60.0
    # Size -> pixels, when only sizes are known (a listing): camera and phone JPEGs at
    # quality 90-100 are 0.3-0.5 MB/MP; the corpus's photos 0.06-0.31 (median 0.14).
    # The lower the figure, the more megapixels and the higher the estimate.
    mb_per_megapixel: float = 0.3


@dataclass(frozen=True)
class Plan:
    """What the backfill would run: objects listed, images among them, their pixels."""

    objects: int
    images: int
    megapixels: float  # of all the images together
    pages: int  # ListObjectsV2 pages (LIST requests)

    @classmethod
    def from_sizes(
        cls, objects: int, images: int, image_bytes: int, pages: int, assumptions: Assumptions
    ) -> Plan:
        megapixels = image_bytes / 1e6 / assumptions.mb_per_megapixel
        return cls(objects, images, megapixels, pages)


@dataclass(frozen=True)
class BackfillEstimate:
    plan: Plan
    first_run: list[cost.Line]  # every image compressed
    rerun: list[cost.Line]  # every image already done: skipped by validate
    transitions_per_image: int  # map + image workflow, first run (Standard)
    map_transitions_per_image: int  # of which the Distributed Map's
    transitions_per_done_image: int
    transitions_per_other_object: int
    gb_seconds_per_image: float
    assumptions: Assumptions

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in ("first_run", "rerun"):
            data[name] = [dataclasses.asdict(x) | {"total": x.total} for x in getattr(self, name)]
        return data


# Paths through the ASL ---------------------------------------------------------
def _successors(state: Mapping[str, Any]) -> list[str]:
    found = [state["Next"]] if "Next" in state else []
    found += [c["Next"] for c in state.get("Choices", [])]
    if "Default" in state:
        found.append(state["Default"])
    return found


def path_to(states: Mapping[str, Any], start: str, goal: str) -> list[str]:
    """The shortest run of states from ``start`` to ``goal`` (both included), without
    Catch branches: the path an execution that does not fail takes."""
    previous: dict[str, str | None] = {start: None}
    todo = deque([start])
    while todo:
        name = todo.popleft()
        if name == goal:
            path = []
            step: str | None = name
            while step is not None:
                path.append(step)
                step = previous[step]
            return path[::-1]
        for following in _successors(states[name]):
            if following not in previous:
                previous[following] = name
                todo.append(following)
    raise ValueError(f"no path from {start!r} to {goal!r}")


def main_path(states: Mapping[str, Any], start: str) -> list[str]:
    """From ``start`` through every Choice's Default to the end: the common path."""
    path, name = [start], start
    while True:
        state = states[name]
        following = state.get("Default") if state["Type"] == "Choice" else state.get("Next")
        if following is None:
            return path
        path.append(following)
        name = following


def _functions(states: Mapping[str, Any], path: list[str]) -> list[str]:
    """The logical ids of the functions the Task states of ``path`` invoke (from the
    raw ASL's ``${<LogicalId>Arn}`` placeholders)."""
    found = []
    for name in path:
        target = str(states[name].get("Parameters", {}).get("FunctionName", ""))
        match = re.fullmatch(r"\$\{(\w+)Arn\}", target)
        if match:
            found.append(match.group(1))
    return found


def map_item_transitions(backfill: Mapping[str, Any], state: str = MAP_STATE) -> tuple[int, int]:
    """Standard transitions per object of the backfill's Distributed Map: (an image, an
    object the filter turns away). AWS bills one transition per child workflow execution
    the map starts, then the child's own states (docs.aws.amazon.com/step-functions/
    latest/dg/concepts-transitions.html)."""
    processor = backfill["States"][state]["ItemProcessor"]
    states, start = processor["States"], processor["StartAt"]
    return 1 + len(path_to(states, start, RUN_IMAGE_WORKFLOW)), 1 + len(
        path_to(states, start, NOT_AN_IMAGE)
    )


# The estimate ------------------------------------------------------------------
def declared_parameters(template: Path) -> set[str]:
    """The parameter names a template declares."""
    return set(read_stack(template).parameters)


def estimate(
    plan: Plan,
    root: Path,
    parameters: Mapping[str, str] | None = None,
    assumptions: Assumptions = Assumptions(),
) -> BackfillEstimate:
    """The cost of a backfill of ``plan`` with the template and ASL under ``root``."""
    image = json.loads((root / IMAGE_ASL).read_text())
    backfill = json.loads((root / BACKFILL_ASL).read_text())
    configs = cost.function_configs(root / "template.yaml", parameters)
    stack_parameters = read_stack(root / "template.yaml", dict(parameters or {})).parameters
    per_image_mp = plan.megapixels / plan.images if plan.images else 0.0
    large = per_image_mp * 1e6 > float(stack_parameters["LargeImagePixels"])

    states = image["States"]
    if large:
        first_path = main_path(states, COMPRESS_LARGE)
        first_path = path_to(states, image["StartAt"], COMPRESS_LARGE)[:-1] + first_path
    else:
        first_path = main_path(states, image["StartAt"])
    done_path = path_to(states, image["StartAt"], SKIPPED)

    map_image, map_other = map_item_transitions(backfill)
    parent = len(main_path(backfill["States"], backfill["StartAt"]))
    others = plan.objects - plan.images

    def lines(path: list[str], durations: Mapping[str, float]) -> list[cost.Line]:
        # 1,000 images through the image workflow, with ops.cost's model...
        unit = 1000
        records = [
            _Invocation(function, durations[function])
            for function in _functions(states, path)
            for _ in range(unit)
        ]
        counts = cost.WorkflowCounts(executions=unit, transitions=unit * len(path))
        per_unit = cost.estimate(records, configs, counts, unit).lines
        # ...plus what the backfill itself is billed: its transitions (Standard
        # whatever WorkflowType is) and its LIST requests.
        factor = plan.images / unit
        extra_transitions = plan.images * map_image + others * map_other + parent
        extra_states = extra_transitions * cost.PRICES.standard_per_thousand_transitions / 1000
        extra_s3 = plan.pages * cost.PRICES.s3_tier1_per_thousand / 1000
        return [
            dataclasses.replace(
                line.scaled(factor),
                step_functions=line.step_functions * factor + extra_states,
                s3_requests=line.s3_requests * factor + extra_s3,
            )
            for line in per_unit
        ]

    compress = per_image_mp * assumptions.compress_seconds_per_megapixel * 1000
    durations = {
        **assumptions.step_ms,
        "CompressImageFunction": compress,
        "CompressLargeImageFunction": compress,
    }
    first = lines(first_path, durations)
    rerun = lines(done_path, {"ValidateImageFunction": assumptions.skip_validate_ms})
    gb_seconds = sum(
        configs[f].memory_mb / 1024 * durations[f] / 1000 for f in _functions(states, first_path)
    )
    return BackfillEstimate(
        plan=plan,
        first_run=first,
        rerun=rerun,
        transitions_per_image=map_image + len(first_path),
        map_transitions_per_image=map_image,
        transitions_per_done_image=map_image + len(done_path),
        transitions_per_other_object=map_other,
        gb_seconds_per_image=gb_seconds,
        assumptions=assumptions,
    )


@dataclass(frozen=True)
class _Invocation:
    function: str
    duration_ms: float
    peak_mb: float = 0.0


def format_estimate(result: BackfillEstimate) -> str:
    """The plan and its cost on the four deployments, first run and re-run, as text."""
    p = result.plan
    head = ["workflow", "arch", "first run", "per 1,000 images", "re-run (all done)"]
    rows = []
    for first, again in zip(result.first_run, result.rerun, strict=True):
        per = first.total / p.images * 1000 if p.images else 0.0
        rows.append(
            [
                first.workflow,
                first.architecture,
                cost.format_money(first.total),
                cost.format_money(per),
                cost.format_money(again.total),
            ]
        )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def fmt(row: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    mp = p.megapixels / p.images if p.images else 0.0
    # A manifest is read with GetObject, not listed: no pages to show.
    listed = f" in {p.pages:,} ListObjectsV2 page(s)" if p.pages else ""
    return "\n".join(
        [
            f"{p.objects:,} objects{listed}; {p.images:,} images "
            f"the upload rule would match, about {p.megapixels:,.0f} MP ({mp:.1f} MP each, "
            f"at {result.assumptions.mb_per_megapixel:g} MB/MP)",
            f"estimated AWS cost ({cost.REGION}, prices of {cost.PRICES_AS_OF}; docs/backfill.md)",
            fmt(head),
            fmt(["-" * w for w in widths]),
            *(fmt(r) for r in rows),
            "",
            f"per image: {result.transitions_per_image} Standard transitions (map "
            f"{result.map_transitions_per_image} + image workflow), "
            f"{result.gb_seconds_per_image:.2f} GB-s of Lambda; an image already done: "
            f"{result.transitions_per_done_image} transitions and one validate invocation;",
            f"an object that is not an image: {result.transitions_per_other_object} transitions. "
            f"Compress at {result.assumptions.compress_seconds_per_megapixel} s/MP "
            "(docs/benchmark.md); free tiers not deducted",
        ]
    )
