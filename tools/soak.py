"""A bounded soak of the real workflow on the embedded runtime, with faults injected.

    python tools/soak.py [--uploads 5000] [--seed N] [--fault-rate 0.1] [--batch 50] [--workers N]

Uploads a seeded mix of images (valid JPEG/PNG/GIF, broken files, and
"poisoned" valid images whose compress step always fails), re-delivers some
events concurrently (duplicates), and makes every function fail at random
(TransientError, Lambda service faults, throttling, timeouts, runtime crashes)
with probability --fault-rate per invocation. Fault decisions are keyed by
(seed, key, function, attempt), so a run is reproducible up to the order in
which concurrent duplicates interleave.

Then it checks the invariants, for every upload:
- accounted for: a result made from it in the destination bucket, or a
  byte-identical copy in the failed bucket (or both, when only the success
  notification failed for good), each as expected for its kind;
- none lost: the original is still byte-identical in the source bucket;
- none duplicated: at most one execution stored a result for it, at most one
  notification about it;
- none stuck: every execution ended (the run has a deadline);
- flat memory: each batch is checked, then its objects, executions and
  notifications are dropped from the embedded AWS, and the process's RSS
  may not grow by more than --max-growth-mb after the first batches.

The handlers run in the test process (the default: faults are cheap there)
or, with --workers N, in worker processes as ``imgflow run`` runs them.

Prints the counts; exits 1 if any invariant fails (or time runs out).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from PIL import Image

from imgflow.contract import META_SOURCE_ETAG
from imgflow.errors import TransientError
from imgflow.trigger import source_from_event
from imgflow_toolkit.local import moto_patches
from imgflow_toolkit.local.moto_patches import LambdaServiceFault
from imgflow_toolkit.local.runtime import EmbeddedStack

REPO = Path(__file__).resolve().parent.parent
# (name Step Functions sees, how to raise it)
FAULTS = (
    ("TransientError", lambda: TransientError("soak: S3 SlowDown")),
    ("Lambda.ServiceException", lambda: LambdaServiceFault("Lambda.ServiceException")),
    (
        "Lambda.TooManyRequestsException",
        lambda: LambdaServiceFault("Lambda.TooManyRequestsException"),
    ),
    ("Lambda.Unknown", lambda: LambdaServiceFault("Lambda.Unknown")),
    ("Sandbox.Timedout", lambda: LambdaServiceFault("Sandbox.Timedout")),
    ("Runtime.ExitError", lambda: LambdaServiceFault("Runtime.ExitError")),
)
FAULT_NAMES = {name for name, _ in FAULTS}


@dataclass
class Upload:
    key: str
    data: bytes
    kind: str  # "good" | "broken" | "poisoned"
    duplicates: int = 0
    etag: str = ""


def make_plan(count: int, rng: random.Random, start: int = 0) -> list[Upload]:
    plan = []
    for i in range(start, start + count):
        roll = rng.random()
        kind = "broken" if roll < 0.08 else "poisoned" if roll < 0.11 else "good"
        fmt = rng.choice(["jpg", "png", "gif"])
        data = image_bytes(fmt, rng)
        if kind == "broken":
            data = rng.choice([data[: len(data) // 2], b"", b"<html>not an image</html>"])
        key = f"soak/{i // 50:03d}/{rng.choice(['', 'a b ', 'x+y ', 'ü '])}img-{i:05d}.{fmt}"
        duplicates = 1 if rng.random() < 0.05 else 0
        plan.append(Upload(key, data, kind, duplicates))
    return plan


def image_bytes(fmt: str, rng: random.Random) -> bytes:
    width, height = rng.randint(24, 96), rng.randint(24, 96)
    image = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
    for _ in range(rng.randint(1, 6)):
        x, y = rng.randrange(width), rng.randrange(height)
        box = (x, y, min(width, x + rng.randint(4, 30)), min(height, y + rng.randint(4, 30)))
        image.paste(tuple(rng.randrange(256) for _ in range(3)), box)
    buffer = io.BytesIO()
    if fmt == "jpg":
        image.save(buffer, "JPEG", quality=rng.randint(60, 98))
    elif fmt == "png":
        image.save(buffer, "PNG", compress_level=rng.randint(0, 3))
    else:
        image.convert("P").save(buffer, "GIF")
    return buffer.getvalue()


def key_of(event: dict[str, Any]) -> str:
    if isinstance(event.get("compressed"), dict):
        return str(event["compressed"]["source"]["key"])
    return source_from_event(event.get("state", event)).key


class FaultInjector:
    """Decides, per (key, function, attempt), whether an invocation fails, and how."""

    def __init__(self, seed: int, rate: float, poisoned: set[str]) -> None:
        self.seed, self.rate, self.poisoned = seed, rate, poisoned
        self.attempts: Counter[tuple[str, str]] = Counter()
        self.injected: Counter[str] = Counter()
        self._lock = threading.Lock()

    def for_function(self, function: str):
        def fault(event: dict[str, Any]) -> None:
            key = key_of(event)
            with self._lock:
                self.attempts[(key, function)] += 1
                attempt = self.attempts[(key, function)]
            if function == "CompressImageFunction" and key in self.poisoned:
                self._count("TransientError (poisoned)")
                raise TransientError("soak: this image's compress step always fails")
            rng = random.Random(f"{self.seed}:{key}:{function}:{attempt}")
            if rng.random() < self.rate:
                name, make = rng.choice(FAULTS)
                self._count(name)
                raise make()

        return fault

    def _count(self, name: str) -> None:
        with self._lock:
            self.injected[name] += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--batch", type=int, default=50, help="uploads in flight at once")
    parser.add_argument("--workers", type=int, help="worker processes per function")
    parser.add_argument("--deadline", type=float, default=5400, help="seconds for the whole run")
    parser.add_argument(
        "--max-growth-mb",
        type=float,
        default=64,
        help="RSS growth allowed after the first tenth of the batches",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    rng = random.Random(args.seed)
    injector = FaultInjector(args.seed, args.fault_rate, set())
    report: Counter[str] = Counter()
    problems: list[str] = []
    stuck: list[str] = []
    executions_run = retries = 0
    batches = range(0, args.uploads, args.batch)
    settled_at = batches[len(batches) // 10] if len(batches) > 1 else 0
    baseline = peak = 0.0
    # Whatever the handlers print stays out of the counts.
    with (
        contextlib.redirect_stdout(io.StringIO()),
        EmbeddedStack(REPO / "template.yaml", workers=args.workers) as stack,
    ):
        for function in stack.spec.functions:  # every function the template declares
            stack.inject(function, injector.for_function(function))
        for start in batches:
            # Planned batch by batch (the same plan for a seed): nothing is held for later.
            batch = make_plan(min(args.batch, args.uploads - start), rng, start)
            injector.poisoned = {u.key for u in batch if u.kind == "poisoned"}
            for upload in batch:
                upload.etag = stack.upload(upload.key, upload.data)["ETag"].strip('"')
            redeliver(stack, batch)
            remaining = args.deadline - (time.monotonic() - started)
            executions = stack.wait(timeout=max(remaining, 1), raise_on_timeout=False)
            stuck += [
                e["executionArn"] for e in executions if e["status"] not in ("SUCCEEDED", "FAILED")
            ]
            executions_run += len(executions)
            counted = account(stack, batch, executions)
            problems += counted.pop("problems")
            report.update(counted)
            forget(stack, batch, executions)
            retries += len(moto_patches.retry_delays)
            moto_patches.retry_delays.clear()
            injector.attempts.clear()  # keys never recur across batches
            if stuck:
                break
            if start == settled_at:
                baseline = rss_mb()
            peak = max(peak, rss_mb())
    if peak - baseline > args.max_growth_mb:
        problems.append(
            f"MEMORY grew from {baseline:.0f} MB to {peak:.0f} MB after the first batches"
        )
    elapsed = time.monotonic() - started
    print_counts(args, dict(report), injector, executions_run, retries, len(stuck), elapsed)
    print(f"  RSS after the first tenth    {baseline:.0f} MB, peak after it {peak:.0f} MB")
    for problem in problems[:20]:
        print(f"  PROBLEM {problem}")
    ok = not problems and not stuck and report["accounted for"] == args.uploads
    print("soak: OK" if ok else f"soak: FAILED ({len(problems)} problems, {len(stuck)} stuck)")
    return 0 if ok else 1


def forget(stack: EmbeddedStack, batch: list[Upload], executions: list[dict]) -> None:
    """Drop a checked batch from the embedded AWS, as ``imgflow run`` drops finished keys."""
    for upload in batch:
        for bucket in stack.spec.buckets.values():
            stack.delete_all_versions(bucket, upload.key)
    moto_patches.forget_executions(stack.state_machine_arn, {e["executionArn"] for e in executions})
    moto_patches.forget_finished_threads()
    stack.discard_notifications()


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def redeliver(stack: EmbeddedStack, batch: list[Upload]) -> None:
    """Start each duplicate with the same input as the upload's own execution."""
    wanted = {u.key: u for u in batch if u.duplicates}
    if not wanted:
        return
    deadline = time.monotonic() + 30
    found: dict[str, str] = {}
    while len(found) < len(wanted) and time.monotonic() < deadline:
        for execution in stack.executions():
            event = stack.describe(execution["executionArn"])["input"]
            key = source_from_event(json.loads(event)).key
            if key in wanted:
                found[key] = event
    for key, event in found.items():
        for _ in range(wanted[key].duplicates):
            stack.sfn.start_execution(stateMachineArn=stack.state_machine_arn, input=event)


def read_or_none(stack: EmbeddedStack, bucket: str, key: str) -> tuple[bytes | None, dict]:
    try:
        response = stack.s3.get_object(Bucket=bucket, Key=key)
    except ClientError:
        return None, {}
    return response["Body"].read(), response.get("Metadata", {})


def account(stack: EmbeddedStack, plan: list[Upload], executions: list[dict]) -> dict[str, Any]:
    notes = Counter(n["body"]["key"] for n in stack.notifications())
    stored_by_key: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    errors_by_key: dict[str, set[str]] = {}
    for execution in executions:
        key = source_from_event(json.loads(execution["input"])).key
        if execution["status"] == "FAILED":
            errors_by_key.setdefault(key, set()).add(execution.get("error", ""))
        if execution.get("output"):
            state = json.loads(execution["output"])
            outcome = (state.get("stored") or {}).get("outcome")
            if outcome in ("compressed", "kept_original"):
                stored_by_key[key] += 1
            elif outcome == "skipped" or (state.get("validated") or {}).get("skip"):
                skipped[key] += 1
    counts: Counter[str] = Counter()
    problems: list[str] = []
    for upload in plan:
        source, _ = read_or_none(stack, stack.source_bucket, upload.key)
        result, meta = read_or_none(stack, stack.result_bucket, upload.key)
        failed, _ = read_or_none(stack, stack.failed_bucket, upload.key)
        if source != upload.data:
            problems.append(f"LOST original {upload.key!r}")
            continue
        has_result = result is not None and meta.get(META_SOURCE_ETAG) == upload.etag
        has_copy = failed == upload.data
        errors = errors_by_key.get(upload.key, set())
        if has_result and result is not None:
            decoded_ok = decodes_like(upload.data, result)
            if not decoded_ok:
                problems.append(f"result of {upload.key!r} does not decode like the original")
        if has_result and has_copy:
            counts["stored, success notification failed (also quarantined)"] += 1
        elif has_result:
            counts["compressed or kept"] += 1
            if upload.kind != "good":
                problems.append(f"{upload.kind} upload {upload.key!r} was published")
        elif has_copy:
            faulted = bool(errors & (FAULT_NAMES | {"TransientError"}))
            if upload.kind == "good" and not faulted:
                problems.append(f"good upload {upload.key!r} quarantined: {errors}")
            counts[f"quarantined ({upload.kind}{', retries exhausted' if faulted else ''})"] += 1
        else:
            problems.append(f"{upload.key!r} is in neither the destination nor the failed bucket")
            continue
        counts["accounted for"] += 1
        if stored_by_key[upload.key] > 1:
            problems.append(f"DUPLICATED: {stored_by_key[upload.key]} results for {upload.key!r}")
        if notes[upload.key] > 1:
            problems.append(f"DUPLICATED: {notes[upload.key]} notifications for {upload.key!r}")
        counts["duplicate executions skipped (success path)"] += skipped[upload.key]
        counts["notifications"] += notes[upload.key]
    counts["lost"] = sum(p.startswith("LOST") for p in problems)
    counts["duplicated"] = sum(p.startswith("DUPLICATED") for p in problems)
    return {**counts, "problems": problems}


def decodes_like(original: bytes, result: bytes) -> bool:
    try:
        before, after = Image.open(io.BytesIO(original)), Image.open(io.BytesIO(result))
        after.load()
        return before.size == after.size
    except Exception:
        return False


def print_counts(args, report, injector, executions, retries, stuck, elapsed) -> None:
    print(
        f"soak: {args.uploads} uploads, seed {args.seed}, fault rate {args.fault_rate}, "
        f"{elapsed:.0f} s"
    )
    print(f"  executions run            {executions}")
    print(f"  duplicate deliveries      {executions - args.uploads}")
    print(f"  faults injected           {sum(injector.injected.values())}")
    for name, count in sorted(injector.injected.items()):
        print(f"    {name:<40} {count}")
    print(f"  retries (back-offs)       {retries}")
    print(f"  stuck executions          {stuck}")
    for name, count in sorted(report.items()):
        print(f"  {name:<40} {count}")


if __name__ == "__main__":
    sys.exit(main())
