"""The a-priori cost of a backfill, against figures worked out by hand.

Hand arithmetic, default template (compress 2,048 MB, the rest 1,024 MB),
1,200 objects of which 1,000 images of 2 MP, listed in 2 pages:
- Standard transitions: per image 3 (the map's child start, its Choice, its Task)
  + 8 (Validate, Already compressed?, Large image?, Compress, Store, Stored?,
  Notify, Done); per other object 3 (start, Choice, Not an image); the parent 4
  (Settings, Apply the input, Listed or in a manifest?, the Map): 11,000 + 600 + 4
  = 11,604 x $0.025/1,000.
- Lambda: 2 MP x 0.55 s/MP = 1.10 s x 2 GB = 2.20 GB-s, + (0.174 + 0.116 +
  0.174) s x 1 GB = 2.664 GB-s per image; 4 requests per image.
- S3: 2 PUT/COPY + 6 GET/HEAD per image, and 2 LISTs. SNS: 1 publish per image.
A re-run with every image done: 3 + 3 transitions per image (Validate,
Already compressed?, Skipped), one 60 ms validate, its 3 GET/HEAD.
"""

from __future__ import annotations

import pytest

from imgflow_toolkit.report import backfill_cost
from imgflow_toolkit.report.cost import PRICES

PLAN = backfill_cost.Plan(objects=1200, images=1000, megapixels=2000.0, pages=2)


@pytest.fixture(scope="module")
def result(repo):
    return backfill_cost.estimate(PLAN, repo)


def line(lines, workflow="STANDARD", architecture="x86_64"):
    return next(x for x in lines if (x.workflow, x.architecture) == (workflow, architecture))


def test_transitions_per_image_are_walked_on_both_definitions(result):
    assert result.transitions_per_image == 11
    assert result.map_transitions_per_image == 3
    assert result.transitions_per_done_image == 6
    assert result.transitions_per_other_object == 3
    assert result.gb_seconds_per_image == pytest.approx(2.664)


def test_a_first_run_costs_what_the_hand_arithmetic_says(result):
    first = line(result.first_run)
    assert first.step_functions == pytest.approx(11_604 * 0.025 / 1000)
    assert first.lambda_compute == pytest.approx(2_664 * 0.0000166667)
    assert first.lambda_requests == pytest.approx(4_000 * 0.20 / 1e6)
    assert first.s3_requests == pytest.approx((2_000 + 2) * 0.005 / 1000 + 6_000 * 0.0004 / 1000)
    assert first.sns == pytest.approx(1_000 * 0.50 / 1e6)
    assert first.total == pytest.approx(0.3482101, rel=1e-6)
    arm = line(result.first_run, architecture="arm64")
    assert arm.lambda_compute == pytest.approx(2_664 * PRICES.lambda_gb_second["arm64"])


def test_a_rerun_pays_only_for_the_skips(result):
    again = line(result.rerun)
    assert again.step_functions == pytest.approx(6_604 * 0.025 / 1000)
    assert again.lambda_compute == pytest.approx(60 * 0.0000166667)
    assert again.sns == 0
    assert again.total == pytest.approx(0.1651 + 0.001000002 + 0.0002 + 0.00121, rel=1e-6)


def test_sizes_become_megapixels_at_the_stated_rate():
    plan = backfill_cost.Plan.from_sizes(10, 4, 1_200_000, 1, backfill_cost.Assumptions())
    assert plan.megapixels == pytest.approx(4.0)  # 1.2 MB at 0.3 MB/MP


def test_images_above_largeimagepixels_are_billed_at_the_large_functions_memory(repo):
    plan = backfill_cost.Plan(objects=10, images=10, megapixels=300.0, pages=1)  # 30 MP each
    large = backfill_cost.estimate(plan, repo)
    compress = 30 * 0.55 * 7168 / 1024  # LargeImageMemorySize, default 7,168 MB
    assert large.gb_seconds_per_image == pytest.approx(compress + 0.464)
    assert large.transitions_per_image == 11  # Large image? -> Compress large image: same length
