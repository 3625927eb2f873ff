"""CompressionMode=lossy through the real workflow: smaller, and never below the target."""

from __future__ import annotations

from workflow_support import sample

from imgflow.imaging.quality import score_bytes
from imgflow.local.runtime import EmbeddedStack


def test_lossy_mode_stores_a_smaller_jpeg_that_meets_the_quality_target(repo):
    original = sample("photos/harbour.jpg")
    parameters = {"CompressionMode": "lossy", "QualityTarget": "85"}
    with EmbeddedStack(repo / "template.yaml", parameters) as stack:
        stack.upload("harbour.jpg", original)
        (execution,) = stack.wait()
        assert execution["status"] == "SUCCEEDED"
        result = stack.read(stack.result_bucket, "harbour.jpg")
    with EmbeddedStack(repo / "template.yaml") as lossless_stack:
        lossless_stack.upload("harbour.jpg", original)
        lossless_stack.wait()
        lossless = lossless_stack.read(lossless_stack.result_bucket, "harbour.jpg")
    assert len(result) < len(lossless) < len(original)
    assert score_bytes(original, result) >= 85.0
