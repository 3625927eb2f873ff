"""The default mode (lossy) through the real workflow: smaller, and never below the target."""

from __future__ import annotations

from workflow_support import sample

from imgflow.imaging.quality import score_bytes
from imgflow_toolkit.local.runtime import EmbeddedStack


def test_default_mode_stores_a_smaller_jpeg_that_meets_the_quality_target(repo):
    original = sample("photos/harbour.jpg")
    with EmbeddedStack(repo / "template.yaml") as stack:  # the template's defaults: lossy, 85
        stack.upload("harbour.jpg", original)
        (execution,) = stack.wait()
        assert execution["status"] == "SUCCEEDED"
        result = stack.read(stack.result_bucket, "harbour.jpg")
    with EmbeddedStack(repo / "template.yaml", {"CompressionMode": "lossless"}) as lossless_stack:
        lossless_stack.upload("harbour.jpg", original)
        lossless_stack.wait()
        lossless = lossless_stack.read(lossless_stack.result_bucket, "harbour.jpg")
    assert len(result) < len(lossless) < len(original)
    assert score_bytes(original, result) >= 85.0
