"""A backfill, then the same backfill again, on the embedded runtime: what the re-run writes.

    python benchmarks/backfill_rerun.py DIR [--workers 2] [--concurrency 4]

Every file under DIR is seeded into the source bucket as an object from before
the stack (no upload events); the backfill state machine runs once, then again
over the same, unchanged bucket. Printed as JSON: objects, executions and
seconds of each run, the skip reasons of the second, and how many objects the
second wrote to the result and failed buckets (new keys, or keys whose ETag or
LastModified changed; the ResultWriter's backfill-results/ files aside). The
contract says 0: a re-run pays for the skips only.

Unlike ``imgflow run --backfill``, which writes each image out and drops it from
the embedded AWS as it ends, this keeps every object, so its memory grows with
DIR: it measures the re-run, not memory.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from imgflow_toolkit.local import moto_patches
from imgflow_toolkit.local.run import collect
from imgflow_toolkit.local.runtime import EmbeddedStack

RESULTS_FILES = "backfill-results/"


def snapshot(stack: EmbeddedStack) -> dict[tuple[str, str], tuple[str, Any]]:
    """(bucket, key) -> (ETag, LastModified) of every result and quarantined original."""
    found = {}
    for bucket in (stack.result_bucket, stack.failed_bucket):
        for page in stack.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                if not item["Key"].startswith(RESULTS_FILES):
                    found[(bucket, item["Key"])] = (item["ETag"], item["LastModified"])
    return found


def backfill(stack: EmbeddedStack, concurrency: int) -> dict[str, Any]:
    before = {e["executionArn"] for e in stack.executions()}
    started = time.monotonic()
    arn = stack.start_backfill({"maxConcurrency": concurrency})
    parent = moto_patches.wait_for_execution(stack.sfn, arn, timeout=7200, poll=1.0)
    children = [
        stack.describe(e["executionArn"])
        for e in stack.wait(timeout=7200)
        if e["executionArn"] not in before
    ]
    reasons = Counter(
        (json.loads(c["output"]).get("validated") or {}).get("reason") or c["status"]
        for c in children
        if c.get("output")
    )
    return {
        "status": parent["status"],
        "children": len(children),
        "children_status": dict(Counter(c["status"] for c in children)),
        "skip_reasons": dict(reasons),  # the status where validate gave none
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4, help="the map's MaxConcurrency")
    args = parser.parse_args()
    uploads = collect([args.folder])
    with EmbeddedStack(workers=args.workers) as stack:
        with stack.upload_events_paused():
            for upload in uploads:
                stack.upload(upload.key, upload.path.read_bytes())
        first = backfill(stack, args.concurrency)
        written = snapshot(stack)
        second = backfill(stack, args.concurrency)
        after = snapshot(stack)
    rewritten = sum(1 for k, v in after.items() if written.get(k) != v)
    print(
        json.dumps(
            {
                "objects": len(uploads),
                "first": first | {"objects_written": len(written)},
                "rerun": second | {"objects_written": rewritten},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
