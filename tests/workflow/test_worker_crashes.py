"""A worker process that dies, through the real state machine, ends as on AWS.

The worker itself exits, segfaults or outgrows its function's MemorySize
(``EmbeddedStack.crash_workers``); the runtime names the failure as Lambda
does, the ASL's Retry and Catch apply to it, the original is quarantined
byte for byte, and the next image is served by a fresh worker.
"""

from __future__ import annotations

import pytest
from verdicts import TEMPLATE, assert_compressed_correctly, assert_quarantined, snapshot
from workflow_support import sample

from imgflow_toolkit.local.runtime import EmbeddedStack

GOOD = sample("photos/harbour.jpg")
RETRIED = 1 + 4  # Compress image: Runtime.ExitError is retried 4 times


@pytest.mark.parametrize("fault", ["exit", "segfault"])
def test_a_crashing_compress_worker_is_retried_then_quarantined_and_replaced(fault):
    with EmbeddedStack(TEMPLATE, workers=1) as stack:
        stack.crash_workers("CompressImageFunction", fault)
        stack.upload("crash.jpg", GOOD)
        crashed = snapshot(stack, {"crash.jpg": GOOD})["crash.jpg"]
        stack.crash_workers("CompressImageFunction", None)
        stack.upload("after.jpg", GOOD)
        after = snapshot(stack, {"after.jpg": GOOD})["after.jpg"]
        compress = [u for u in stack.usage if u.function.endswith("CompressImageFunction")]
    assert_quarantined(crashed, "Runtime.ExitError", says="crashed")
    assert [u.error for u in compress] == ["Runtime.ExitError"] * RETRIED + [None]
    assert_compressed_correctly(after)


def test_a_worker_past_its_memory_size_is_quarantined_without_retries():
    with EmbeddedStack(TEMPLATE, workers=1) as stack:
        stack.crash_workers("ValidateImageFunction", "memory")
        stack.upload("hog.jpg", GOOD)
        verdict = snapshot(stack, {"hog.jpg": GOOD})["hog.jpg"]
        validate = [u for u in stack.usage if u.function.endswith("ValidateImageFunction")]
        memory = stack.spec.functions["ValidateImageFunction"].memory
    assert_quarantined(verdict, "Runtime.OutOfMemory", says="memory")
    (killed,) = validate
    assert killed.error == "Runtime.OutOfMemory" and killed.peak_mb > memory


def test_without_workers_there_is_no_process_to_crash():
    with EmbeddedStack(TEMPLATE) as stack, pytest.raises(RuntimeError, match="workers=N"):
        stack.crash_workers("CompressImageFunction", "exit")
