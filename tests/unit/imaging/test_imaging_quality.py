"""SSIMULACRA2: agrees with the reference implementation's published scores."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from imaging_samples import encode, exif_with, opened, photo
from PIL import Image

from imgflow.imaging import quality
from imgflow.imaging.quality import blur, metric

PAIRS_DIR = Path(__file__).parents[2] / "data" / "ssimulacra2"
PAIRS = json.loads((PAIRS_DIR / "scores.json").read_text())


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_score_agrees_with_reference_within_0_1(name: str) -> None:
    expected = PAIRS[name]
    original = Image.open(PAIRS_DIR / expected["reference"])
    distorted = Image.open(PAIRS_DIR / name.split("#")[0])  # "#self": the reference itself
    assert quality.score_images(original, distorted) == pytest.approx(expected["score"], abs=0.1)


def test_search_metric_close_to_reference_on_a_photo_crop() -> None:
    expected = PAIRS["plasma_Kite.jpeg80.png"]
    original = quality.linear_rgb(Image.open(PAIRS_DIR / expected["reference"]))
    distorted = quality.linear_rgb(Image.open(PAIRS_DIR / "plasma_Kite.jpeg80.png"))
    hybrid = quality.Reference(original, exact_from=2).score(distorted)
    assert hybrid == pytest.approx(expected["score"], abs=0.2)


def test_fast_blur_is_the_reference_filter() -> None:
    rng = np.random.default_rng(1)
    planes = rng.random((2, 40, 70), dtype=np.float32)
    assert np.abs(blur.blur_fast(planes) - blur.blur_exact(planes)).max() < 1e-5


def _horizontal_one_row(row: np.ndarray) -> np.ndarray:
    """libjxl's FastGaussian1D on one row, a lane and a cosine term at a time, in
    float32 scalars (a product and a sum in float64, then rounded, as ``fma``)."""
    n_, width, f32, f64 = blur._N, len(row), np.float32, np.float64

    def fma(a, b, c):
        return f32(f64(a) * f64(b) + f64(c))

    def at(i):
        return row[i] if 0 <= i < width else f32(0)

    prev, prev2, out = [f32(0)] * 3, [f32(0)] * 3, np.zeros(width, f32)
    n = -n_ + 1
    first_aligned = -(-(n_ + 1) // 4) * 4
    while n < width:
        if min(first_aligned, width) <= n < width - n_ + 1 - 3:  # four lanes at once
            s = [f32(at(n - n_ - 1 + j) + at(n + n_ - 1 + j)) for j in range(4)]
            lanes = []
            for k in range(3):
                o = [f32(f64(s[0]) * f64(blur._MUL_IN[k, j])) for j in range(4)]
                for i in (1, 2, 3):
                    o = [fma(blur._MUL_IN[k, j - i] if j >= i else 0, s[i], o[j]) for j in range(4)]
                o = [fma(blur._MUL_PREV2[k, j], prev2[k], o[j]) for j in range(4)]
                o = [fma(blur._MUL_PREV[k, j], prev[k], o[j]) for j in range(4)]
                prev2[k], prev[k] = o[2], o[3]
                lanes.append(o)
            for j in range(4):
                out[n + j] = lanes[0][j] + (lanes[1][j] + lanes[2][j])
            n += 4
            continue
        s = f32(at(n - n_ - 1) + at(n + n_ - 1))
        for k in range(3):
            o = fma(blur._MUL_PREV2[k, 0], prev2[k], f32(f64(s) * f64(blur._MUL_IN[k, 0])))
            prev2[k], prev[k] = prev[k], fma(blur._MUL_PREV[k, 0], prev[k], o)
        if n >= 0:
            out[n] = prev[0] + (prev[1] + prev[2])
        n += 1
    return out


@pytest.mark.parametrize("width", [7, 13, 40, 61])
def test_exact_blur_rows_are_libjxl_arithmetic_to_the_last_bit(width: int) -> None:
    rng = np.random.default_rng(width)
    rows = (rng.random((5, width), dtype=np.float32) * [[1], [1e-3], [50], [1], [0]]).astype(
        np.float32
    )
    expected = np.stack([_horizontal_one_row(r) for r in rows])
    assert np.array_equal(blur._horizontal(rows).view(np.uint32), expected.view(np.uint32))


def test_more_distortion_scores_lower() -> None:
    image = photo(size=(96, 80))
    scores = [
        quality.score_bytes(encode(image, "PNG"), encode(image, "JPEG", quality=q))
        for q in (95, 60, 20)
    ]
    assert 100 > scores[0] > scores[1] > scores[2]


def test_orientation_applied_to_both_sides() -> None:
    image = photo(size=(96, 64))
    rotated = encode(image.rotate(-90, expand=True), "JPEG", quality=95, exif=exif_with(8))
    assert opened(rotated).size == (64, 96)
    assert quality.score_bytes(encode(image, "PNG"), rotated) > 80


def test_size_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="size mismatch"):
        quality.score_images(photo(size=(64, 64)), photo(size=(64, 48)))


def test_transparent_images_take_the_worse_background() -> None:
    solid = photo("RGBA", size=(64, 64))
    faded = solid.copy()
    faded.putalpha(128)
    assert quality.score_images(solid, faded) < 90


def _candidate_pair() -> tuple[np.ndarray, np.ndarray]:
    image = photo(size=(192, 128), seed=5)
    return quality.planes(image), quality.planes(opened(encode(image, "JPEG", quality=70)))


def test_measure_then_confirm_is_the_score_to_the_last_bit() -> None:
    original, distorted = _candidate_pair()
    reference = quality.Reference(original, exact_from=2, proxy=True)
    measured = reference.measure(distorted)
    assert measured.complete
    assert reference.confirm(measured) == reference.score(distorted)
    # The estimate with this candidate's own offset is the confirmed score.
    assert measured.estimate(measured.offset) == pytest.approx(reference.score(distorted), abs=1e-9)
    # Without an offset it is the fast arithmetic's score, not the product's.
    assert measured.estimate() != reference.score(distorted)


def test_a_measurement_stopped_early_cannot_be_confirmed() -> None:
    original, distorted = _candidate_pair()
    reference = quality.Reference(original, exact_from=2, proxy=True)
    measured = reference.measure(distorted, at_least=99.9)
    assert not measured.complete
    assert measured.estimate() < 99.9
    with pytest.raises(ValueError, match="complete"):
        reference.confirm(measured)


def test_a_measurement_may_stop_after_its_sample_and_otherwise_sums_every_row() -> None:
    image = photo(size=(96, 600), seed=5)  # tall enough for sample bands at both finer scales
    original = quality.planes(image)
    distorted = quality.planes(opened(encode(image, "JPEG", quality=70)))
    reference = quality.Reference(original, exact_from=2, proxy=True)
    full = reference.measure(distorted)
    seen: list[list[float]] = []

    def stop(partial: quality.Measurement) -> bool:
        seen.append(list(partial.sampled))
        partial.predicted = sum(full.fine)  # a perfect prediction
        return True

    stopped = reference.measure(distorted, after_sample=stop)
    # Asked once, with the coarse scales summed and both finer scales sampled.
    assert seen == [full.sampled] and len(full.sampled) == 2
    assert not stopped.complete and stopped.fine == []
    assert stopped.coarse_fast == full.coarse_fast
    assert stopped.estimate() == pytest.approx(full.estimate(), abs=1e-9)
    # The sample is its own rows' norms, not the scale's: close, not equal.
    assert full.sampled != full.fine
    for sampled, whole in zip(full.sampled, full.fine, strict=True):
        assert 0.3 < sampled / whole < 3.0
    # Declining changes nothing: the same sums, and the score to the last bit.
    declined = reference.measure(distorted, after_sample=lambda _: False)
    assert declined.complete and declined.fine == full.fine
    assert reference.confirm(declined) == reference.score(distorted)


def test_a_sample_is_an_eighth_of_the_rows_or_all_of_a_short_scale() -> None:
    tall = np.zeros((3, 2000, 8), np.uint8)
    bounds = metric._strip_bounds(tall)
    assert [a for a, *_ in bounds] == sorted({a for a, *_ in bounds})  # in order
    assert bounds[0][0] == 0 and bounds[-1][1] == 2000
    assert all(b == c for (_, b, *_), (c, *_) in itertools.pairwise(bounds))  # no gap
    # Every cut on the blur's tile, so strips cut the blur where the whole plane does.
    assert all(a % blur.TILE == 0 for a, *_ in bounds)
    rows = sum(bounds[i][1] - bounds[i][0] for i in metric._sampled_strips(tall))
    assert rows == 8 * metric.SAMPLE_ROWS and rows / 2000 == pytest.approx(1 / 8, abs=0.01)
    short = np.zeros((3, 128, 8), np.uint8)
    assert metric._sampled_strips(short) == list(range(len(metric._strip_bounds(short))))
    original, distorted = _candidate_pair()  # 128 rows: its sample is every row
    measured = quality.Reference(original, exact_from=2, proxy=True).measure(distorted)
    assert measured.sampled == measured.fine


def test_measure_needs_the_proxy_side() -> None:
    original, distorted = _candidate_pair()
    with pytest.raises(ValueError, match="proxy=True"):
        quality.Reference(original, exact_from=2).measure(distorted)
