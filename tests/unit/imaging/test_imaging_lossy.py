"""Lossy JPEG mode: smaller, scores at or above the target, presents like the original."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest
from imaging_samples import encode, exif_with, opened, photo
from PIL import ImageCms, JpegImagePlugin

from deployment import template_limits
from imgflow.contract import Outcome
from imgflow.imaging import jpeg, lossy, metadata, quality
from imgflow.imaging.compress import compress
from imgflow.imaging.validate import inspect
from imgflow.settings import CompressionMode, MetadataPolicy

LIMITS = template_limits()

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def run(data: bytes, target: float = 85.0, policy: MetadataPolicy = MetadataPolicy.KEEP):
    info = inspect(data, LIMITS)
    return compress(
        data, info, mode=CompressionMode.LOSSY, metadata_policy=policy, quality_target=target
    )


@pytest.fixture(scope="module")
def high_quality_photo() -> bytes:
    exif = exif_with(orientation=6)
    return encode(photo(size=(256, 192), seed=3), "JPEG", quality=97, icc_profile=SRGB, exif=exif)


def test_lossy_output_is_smaller_and_meets_the_target(high_quality_photo: bytes) -> None:
    result = run(high_quality_photo)
    assert result.outcome is Outcome.COMPRESSED
    assert result.method.startswith(("jpeg-jpegli", "jpeg-requant"))
    lossless = jpeg.optimize_lossless(high_quality_photo)
    assert result.bytes_out == len(result.data) < len(lossless)
    assert quality.score_bytes(high_quality_photo, result.data) >= 85.0


def test_lossy_keeps_orientation_icc_and_exif(high_quality_photo: bytes) -> None:
    out, original = opened(run(high_quality_photo).data), opened(high_quality_photo)
    assert out.size == original.size
    assert out.info["icc_profile"] == SRGB
    assert out.info["exif"] == original.info["exif"]
    assert out.getexif()[metadata.ORIENTATION_TAG] == 6


def test_higher_target_gives_larger_file(high_quality_photo: bytes) -> None:
    assert len(run(high_quality_photo, 80).data) < len(run(high_quality_photo, 92).data)


def test_lossy_grayscale_stays_grayscale() -> None:
    data = encode(photo("L", size=(200, 150)), "JPEG", quality=95)
    result = run(data)
    assert result.outcome is Outcome.COMPRESSED
    assert result.method.startswith("jpeg-jpegli")  # jpegli, though pyjpegli takes RGB only
    assert opened(result.data).mode == "L"
    assert quality.score_bytes(data, result.data) >= 85.0


def test_grayscale_jpegli_keeps_the_luma_of_the_colour_encoding() -> None:
    grey = photo("L", size=(200, 152))
    colour = lossy.ajpegli.encode(np.asarray(grey.convert("RGB")), distance=2.0)
    luma = lossy._luma_only(colour)
    assert opened(luma).mode == "L"
    assert list(opened(luma).quantization[0]) == list(opened(colour).quantization[0])
    assert len(luma) < len(colour)  # no chroma
    assert quality.score_bytes(colour, luma) > 95  # the same picture


def test_lossy_cmyk_takes_the_lossless_path() -> None:
    data = encode(photo("CMYK", size=(200, 150)), "JPEG", quality=90)
    result = run(data)
    assert result.method == "jpeg-lossless"
    assert opened(result.data).tobytes() == opened(data).tobytes()


def test_nothing_passes_keeps_the_lossless_result() -> None:
    data = encode(photo(size=(160, 120), seed=5), "JPEG", quality=95)
    result = run(data, target=99.9)
    assert result.method == "jpeg-lossless"
    assert opened(result.data).tobytes() == opened(data).tobytes()


def test_lossy_strips_gps_when_asked() -> None:
    data = encode(photo(size=(200, 150)), "JPEG", quality=97, exif=exif_with(gps=True))
    result = run(data, policy=MetadataPolicy.STRIP_GPS)
    assert result.outcome is Outcome.COMPRESSED
    assert not opened(result.data).getexif().get_ifd(metadata.GPS_IFD_TAG)


def test_search_scores_within_its_budget_and_records_every_score() -> None:
    data = encode(photo(size=(192, 128), seed=7), "JPEG", quality=96)
    found = lossy.search(data, 85.0, baseline_size=len(jpeg.optimize_lossless(data)))
    assert found.data is not None
    assert found.evaluations == sum(c.score is not None for c in found.tried)
    rounds = lossy.MAX_SCORES // lossy.EXTRA_SCORES  # of ``refine``, at most
    assert found.evaluations <= lossy.MAX_SCORES + rounds * lossy.EXTRA_SCORES
    passing = [c for c in found.tried if c.confirmed and c.score >= 85.1]
    assert len(found.data) == min(len(c.data) for c in passing)  # the smallest that passed


def test_only_a_confirmed_score_can_make_a_candidate_pass(monkeypatch) -> None:
    # Every estimate is taken as certain to fail, so nothing is confirmed: however
    # high the estimates, nothing passes and the lossless source is kept.
    monkeypatch.setattr(lossy, "UNCERTAINTY", -100.0)
    data = encode(photo(size=(192, 128), seed=7), "JPEG", quality=96)
    found = lossy.search(data, 85.0, baseline_size=len(jpeg.optimize_lossless(data)))
    assert any(c.score is not None and c.score >= 85.1 for c in found.tried)
    assert not any(c.confirmed for c in found.tried)
    assert found.data is None


def test_the_winner_scores_the_target_on_the_product_metric() -> None:
    data = encode(photo(size=(192, 128), seed=7), "JPEG", quality=96)
    found = lossy.search(data, 85.0, baseline_size=len(jpeg.optimize_lossless(data)))
    assert found.data is not None
    reference = quality.Reference(quality.planes(opened(data)), exact_from=lossy.EXACT_FROM)
    assert reference.score(quality.planes(opened(found.data))) == pytest.approx(found.score)
    assert found.score >= 85.1


def test_offsets_are_read_at_the_candidates_fast_sum() -> None:
    offsets = lossy._Offsets()
    assert offsets.at(1.0) == 0.0 and offsets.least == 0.0  # before any confirmation
    offsets.add(2.0, 0.10)
    offsets.add(1.0, 0.20)
    assert offsets.at(1.5) == pytest.approx(0.15)  # between two: interpolated
    assert offsets.at(0.5) == 0.20 and offsets.at(3.0) == 0.10  # outside: the nearest
    assert offsets.least == 0.10


def test_a_candidate_estimated_near_the_mark_is_confirmed() -> None:
    data = encode(photo(size=(192, 128), seed=7), "JPEG", quality=96)
    found = lossy.search(data, 85.0, baseline_size=len(jpeg.optimize_lossless(data)))
    for candidate in found.tried:
        if candidate.score is not None and not candidate.confirmed:
            # Estimated to fail, or to pass clearly enough that confirmation could
            # wait: at the least LEAN_BAND from the mark (UNCERTAINTY below it and
            # PROVISIONAL_ABOVE above it until the offsets are known near it).
            assert candidate.score < 85.1 - lossy.LEAN_BAND or (
                candidate.score >= 85.1 + lossy.LEAN_BAND and candidate.provisional
            )
        assert found.data is not None
        assert not any(c.provisional and len(c.data) <= len(found.data) for c in found.tried)


def test_pillow_encodings_are_entropy_optimised_before_sizes_are_compared() -> None:
    data = encode(photo(size=(192, 128), seed=8), "JPEG", quality=75)
    image = opened(data)
    tables = [list(t) for t in image.quantization.values()]
    family = lossy.requant_family(image, tables, JpegImagePlugin.get_sampling(image))
    run = lossy._Search(image, 85.1, baseline_size=10**9)
    candidate = run.encode(family, family.x(1.0))  # the source's own tables: it passes
    assert run.score(candidate)
    assert len(candidate.data) < candidate.encoded_size  # Pillow's baseline output, ...
    assert opened(candidate.data).info.get("progressive")  # ... re-coded progressive
    assert run.best is candidate


def test_the_winner_is_progressive_whichever_family_made_it(high_quality_photo: bytes) -> None:
    found = lossy.search(high_quality_photo, 85.0, baseline_size=10**9)
    assert opened(found.data).info.get("progressive")


@pytest.mark.parametrize(("source_quality", "requant"), [(75, True), (90, False)])
def test_requantisation_is_tried_only_below_quality_83(source_quality: int, requant: bool) -> None:
    data = encode(photo(size=(192, 128), seed=8), "JPEG", quality=source_quality)
    found = lossy.search(data, 85.0, baseline_size=len(jpeg.optimize_lossless(data)))
    assert any(c.family == "requant" for c in found.tried) is requant
    assert any(c.family == "jpegli-q" for c in found.tried)


class _Scripted(lossy._Search):
    """The search policy over known curves: a candidate's bytes name its family and
    parameter, ``scores`` gives its score (no real encoding or scoring)."""

    def __init__(self, scores, target: float = 85.1, baseline_size: int = 10**9) -> None:
        self.scores, self.target, self.baseline_size = scores, target, baseline_size
        self.passing, self.evaluations, self.encodes, self.tried = [], 0, 0, []
        self.known, self.offsets, self.confirmations = {}, lossy._Offsets(), 0
        self.probes, self.sample_sizes, self.ratios = 0, {}, []
        self.unchallenged, self.allowance = 0, lossy.MAX_SCORES

    def _measure(self, data: bytes, screen: bool) -> tuple[float, lossy.Verdict, None]:
        family, param = data.split(b":")[:2]
        return self.scores(family.decode(), float(param)), lossy.Verdict.CONFIRMED, None


class _Provisional(_Scripted):
    """Estimates ``bias`` points above the true ``scores``: a candidate whose estimate
    clears the mark by ``PROVISIONAL_ABOVE`` passes provisionally, and confirming
    it reveals the true score."""

    def __init__(self, scores, bias: float) -> None:
        super().__init__(scores)
        self.bias = bias
        self.offsets.add(0.0, 0.0)  # as after the image's first confirmation

    def _measure(
        self, data: bytes, screen: bool
    ) -> tuple[float, lossy.Verdict, quality.Measurement | None]:
        family, param = data.split(b":")[:2]
        score = self.scores(family.decode(), float(param))
        if score + self.bias >= self.target + lossy.PROVISIONAL_ABOVE:
            planes = np.zeros((3, 1, 1), np.float32)
            measured = quality.Measurement([], 0.0, planes, True)
            return score + self.bias, lossy.Verdict.PROVISIONAL, measured
        return score, lossy.Verdict.CONFIRMED, None

    def _confirm_provisional(self, candidate: lossy.Candidate) -> float:
        self.confirmations += 1
        family, param = candidate.data.split(b":")[:2]
        return self.scores(family.decode(), float(param))


def scripted_family(name: str, size: Callable[[float], int]) -> lossy.Family:
    """Files of ``size(distance)`` bytes that name their family and distance."""

    def encode(distance: float) -> bytes:
        head = f"{name}:{distance:.6f}:".encode()
        return head + b"x" * (size(distance) - len(head))

    return lossy.Family(name, encode, *lossy.JPEGLI_DISTANCE, log=True, slope=10.0)


def quality_family() -> lossy.Family:
    """A whole-quality family whose file at quality q is 1,000 * q bytes naming q."""

    def encode(q: float) -> bytes:
        head = f"q:{q:.6f}:".encode()
        return head + b"x" * (1_000 * int(q) - len(head))

    return lossy.Family(
        "q", encode, 30, 99, log=False, slope=1.0, tolerance=1.0, rising=True, whole=True
    )


def sampled_family(name: str, size: Callable[[float], int]) -> lossy.Family:
    """``scripted_family`` with a sample a quarter of the size at every distance."""
    return dataclasses.replace(
        scripted_family(name, size), sample=lambda distance: b"s" * (size(distance) // 4)
    )


@pytest.fixture
def no_mozjpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lossy.mozjpeg, "optimize", lambda data: data)


def test_the_boundary_of_a_flat_curve_is_reached_within_the_budget(no_mozjpeg) -> None:
    # Half the typical slope: steps of the slope alone would stop short.
    family = scripted_family("a", lambda d: int(100_000 / d))
    run = _Scripted(lambda _, d: 90.0 - 5.0 * math.log(d / 0.5))
    boundary = 0.5 * math.exp(4.9 / 5.0)  # 85.1 at d = 1.33
    run.boundary(family, math.log(0.5), budget=4, challenger=False)
    assert run.evaluations <= 4
    assert run.best is not None and 0.97 * boundary < run.best.param <= boundary


def test_a_challenger_that_passes_smaller_takes_the_lead(no_mozjpeg) -> None:
    # Family b makes 10% smaller files than a at every distance and scores the
    # same: the search finds it although a's boundary alone looks complete.
    a = scripted_family("a", lambda d: int(100_000 / d))
    b = scripted_family("b", lambda d: int(90_000 / d))
    run = _Scripted(lambda _, d: 95.0 - 10.0 * math.log(d / 0.5))  # 85.1 at d = 1.34
    run.boundary(a, math.log(1.0), budget=3, challenger=False)
    leader = run.best
    run.challenge(b, math.log(leader.param))
    assert run.best.family == "b"
    assert len(run.best.data) < 0.95 * len(leader.data)
    assert run.evaluations <= lossy.MAX_SCORES


def _flat_sizes_boundary(unchallenged: int) -> _Scripted:
    # Sizes that fall slowly with the distance (3% over 0.1 of log-distance, five
    # times the tolerance), scores that fall fast: from far past the boundary,
    # the bracket is soon narrower in size than a challenge would gain.
    a = scripted_family("a", lambda d: int(100_000 / d**0.3))
    run = _Scripted(lambda _, d: 95.0 - 10.0 * math.log(d / 0.5))  # 85.1 at d = 1.34
    run.unchallenged = unchallenged
    run.boundary(a, math.log(2.0), budget=lossy.MAX_SCORES, challenger=False)
    return run


def test_a_bracket_narrower_than_a_challenge_gain_leaves_its_scores_to_other_families(
    no_mozjpeg,
) -> None:
    closed, left = _flat_sizes_boundary(unchallenged=0), _flat_sizes_boundary(unchallenged=1)
    assert left.evaluations < closed.evaluations
    failed = min((c for c in left.tried if c.score < left.target), key=lambda c: c.param)
    assert len(failed.data) > (1 - lossy.CHALLENGE_GAIN) * len(left.best.data)
    # The scores left over go to the family not yet tried, 10% smaller.
    b = scripted_family("b", lambda d: int(90_000 / d**0.3))
    left.unchallenged = 0
    left.challenge(b, math.log(left.best.param))
    assert left.best.family == "b"
    assert left.evaluations <= lossy.MAX_SCORES


def test_a_bracket_is_closed_to_the_tolerance_when_no_family_is_left(no_mozjpeg) -> None:
    run = _flat_sizes_boundary(unchallenged=0)
    boundary = 0.5 * math.exp(9.9 / 10.0)
    assert boundary * math.exp(-2 * lossy.TOLERANCE) <= run.best.param <= boundary


def _spent_on_one_pass(score_at_start: float) -> tuple[_Scripted, lossy.Family]:
    # One scored file, then a budget spent elsewhere (as on a photo whose first
    # family never passed and whose last challenger passed at its first setting).
    a = scripted_family("a", lambda d: int(100_000 / d))
    run = _Scripted(lambda _, d: score_at_start - 10.0 * math.log(d / 0.5))  # at d = 0.5
    run.score(run.encode(a, math.log(0.5)))
    run.evaluations = lossy.MAX_SCORES
    return run, a


def test_a_pass_far_above_the_mark_gets_extra_scores_towards_the_boundary(no_mozjpeg) -> None:
    run, a = _spent_on_one_pass(score_at_start=90.0)  # 85.1 at d = 0.82
    run.refine([a])
    assert lossy.MAX_SCORES < run.evaluations <= 2 * lossy.MAX_SCORES
    assert run.best.score >= run.target
    assert run.best.param > 0.75  # from 0.5: files a third smaller


def test_a_pass_near_the_mark_gets_no_extra_score(no_mozjpeg) -> None:
    run, a = _spent_on_one_pass(score_at_start=run_target_plus(lossy.FAR_ABOVE - 0.1))
    run.refine([a])
    assert run.evaluations == lossy.MAX_SCORES and run.best.param == 0.5


def run_target_plus(points: float) -> float:
    return 85.1 + points


def test_a_challenger_that_fails_costs_one_score(no_mozjpeg) -> None:
    a = scripted_family("a", lambda d: int(100_000 / d))
    b = scripted_family("b", lambda d: int(100_000 / d))
    run = _Scripted(lambda f, d: 95.0 - 10.0 * math.log(d / 0.5) - (5.0 if f == "b" else 0.0))
    run.boundary(a, math.log(1.0), budget=3, challenger=False)
    leader, scored = run.best, run.evaluations
    run.challenge(b, math.log(leader.param))
    assert run.best is leader
    assert run.evaluations == scored + 1


def test_a_larger_setting_that_scores_higher_wins_at_a_smaller_size(no_mozjpeg) -> None:
    # Scores do not fall monotonically with size across families: b's files are
    # larger at the same distance but score higher, so b passes at a smaller size.
    a = scripted_family("a", lambda d: int(100_000 / d))
    b = scripted_family("b", lambda d: int(110_000 / d))
    run = _Scripted(lambda f, d: 95.0 - 10.0 * math.log(d / 0.5) + (4.0 if f == "b" else 0.0))
    run.boundary(a, math.log(1.0), budget=3, challenger=False)
    leader = run.best
    run.challenge(b, math.log(leader.param))
    assert run.best.family == "b" and len(run.best.data) < len(leader.data)


def test_quality_estimate_from_tables() -> None:
    for q in (50, 75, 90):
        image = opened(encode(photo(size=(64, 64)), "JPEG", quality=q))
        assert abs(jpeg.estimate_quality(list(image.quantization[0])) - q) <= 1


def test_an_integer_family_never_scores_the_same_setting_twice(no_mozjpeg) -> None:
    family = quality_family()
    # Half a point per quality step: the boundary (85.1) lies between 90 and 91.
    run = _Scripted(lambda _, q: 80.0 + 0.5 * (q - 80))
    run.boundary(family, family.x(95), budget=6, challenger=False)
    scored = [c.param for c in run.tried if c.score is not None]
    assert all(p == int(p) for p in scored)
    assert run.evaluations == len(set(scored))
    assert run.best.param == 91


def test_a_whole_family_reaches_its_boundary_in_three_scores_from_a_far_start(no_mozjpeg) -> None:
    # fog.jpg's measured curve: from quality 90 (2.6 points short) the steps must be
    # taken at the qualities actually encoded, not at the fractions aimed at.
    measured = {90: 82.58, 91: 84.42, 92: 85.39, 93: 87.14, 94: 88.0, 95: 89.0}

    family = quality_family()
    run = _Scripted(lambda _, q: measured[int(q)])
    run.boundary(family, family.x(90), budget=lossy.FIRST_BUDGET, challenger=False)
    assert run.best.param == 92
    assert run.evaluations <= lossy.FIRST_BUDGET


def test_a_provisional_pass_is_confirmed_only_when_it_would_be_returned(no_mozjpeg) -> None:
    family = scripted_family("a", lambda d: int(100_000 / d))
    # Estimates 1.5 points high: d = 0.5 (95.0) and d = 1.0 (88.1) pass provisionally,
    # d = 1.4 (84.7, estimated 86.2) too, though it fails.
    run = _Provisional(lambda _, d: 95.0 - 10.0 * math.log(d / 0.5), bias=1.5)
    for distance in (0.5, 1.0, 1.4):
        assert run.score(run.encode(family, math.log(distance)))
    assert all(c.provisional for c in run.passing) and run.confirmations == 0
    winner = run.settle()
    # The smallest failed its confirmation and was dropped; the next one was
    # confirmed; the largest, never the leader, never was.
    assert winner is not None and winner.param == pytest.approx(1.0)
    assert winner.confirmed and winner.score >= 85.1
    assert run.confirmations == 2
    assert [c.provisional for c in run.tried] == [True, False, False]


def test_a_challenger_is_probed_on_the_sample_and_encoded_in_full_once(no_mozjpeg) -> None:
    a = sampled_family("a", lambda d: int(100_000 / d))
    b = sampled_family("b", lambda d: int(90_000 / d))
    run = _Scripted(lambda _, d: 95.0 - 10.0 * math.log(d / 0.5))  # 85.1 at d = 1.34
    run.boundary(a, math.log(1.0), budget=3, challenger=False)
    assert run.probes == 1  # the image's first full encode calibrates the ratio
    assert run.ratios[0][1] == pytest.approx(4.0, rel=1e-3)
    leader, probes = run.best, run.probes
    run.challenge(b, math.log(leader.param))
    assert run.probes > probes
    # b's first full encode is the setting the probes chose, and it was scored.
    challenger = next(c for c in run.tried if c.family == "b")
    assert challenger.score is not None
    assert challenger.encoded_size < leader.encoded_size
    assert run.best.family == "b"


def test_a_size_probe_predicts_a_photographs_full_file_within_3_percent() -> None:
    image = photo(size=(1400, 1100), seed=5)
    # Bands start at rows 0, 256, 512, 768 and 1024.
    assert lossy.sample_rows(np.asarray(image)).shape[0] == 5 * lossy.SAMPLE_BAND
    run = lossy._Search(image, 85.1, baseline_size=10**9)
    for family in lossy.jpegli_families(image):
        calibration = run.encode(family, family.x(family.param(family.x_range[0] + 1.0)))
        assert calibration.encoded_size > 0
        for setting in (family.x_range[0] + 0.7, family.x_range[0] + 1.3):
            predicted, full = run.predict(family, setting)
            assert full is None  # a probe, not an encode
            actual = len(family.encode(family.param(setting)))
            assert abs(predicted / actual - 1.0) < 0.03, (family.name, predicted, actual)


def test_a_candidate_predicted_far_from_the_mark_by_its_sample_stops_there() -> None:
    image = photo(size=(192, 128), seed=5)
    run = lossy._Search(image, 85.1, baseline_size=10**9)
    # An earlier candidate of this image: the finer scales' sums 2x and 3x their samples'.
    run.samples.append((0.2, [2.0, 3.0]))
    run.offsets.add(0.2, 0.1)  # and its confirmation: the coarse scales' offset

    def sampled(finer: float) -> quality.Measurement:
        return quality.Measurement(
            [], coarse_fast=0.2, level=None, complete=False, sampled=[finer / 5, finer / 5]
        )

    near = sampled(0.55)  # predicted 0.55: a total of 0.85, about 85.1
    assert run._after_sample(near) is None and near.predicted == 0.0
    far_below = sampled(6.0)
    assert run._after_sample(far_below) is lossy.Verdict.ESTIMATED
    assert far_below.predicted == pytest.approx(6.0)
    assert far_below.estimate(0.1) < 85.1 - lossy.UNCERTAINTY - lossy.SAMPLE_ERROR
    far_above = sampled(0.25)  # about 88.7
    assert run._after_sample(far_above) is lossy.Verdict.PROVISIONAL
    assert far_above.estimate(0.1) >= 85.1 + lossy.PROVISIONAL_ABOVE + lossy.SAMPLE_ERROR
    # No earlier candidate: nothing to predict from, measured in full.
    run.samples.clear()
    assert run._after_sample(sampled(6.0)) is None


def test_a_measurements_verdict_before_and_after_the_first_confirmation() -> None:
    image = photo(size=(192, 128), seed=5)
    run = lossy._Search(image, 85.1, baseline_size=10**9)

    def measured(total: float) -> quality.Measurement:
        return quality.Measurement([total - 0.2], coarse_fast=0.2, level=None, complete=True)

    # Before any confirmation nothing passes on an estimate, however high, and failing
    # is decided on the upper bound (no offset): 85.2 is not 0.3 under the mark, 83.6 is.
    assert run._verdict(measured(0.1), 0.0) is None
    assert run._verdict(measured(0.85), 0.0) is None
    assert run._verdict(measured(1.0), 0.0) is lossy.Verdict.ESTIMATED
    run.offsets.add(0.2, 0.1)  # once confirmed: 86.8 passes provisionally, 85.2 is confirmed
    assert run._verdict(measured(0.6), 0.0) is lossy.Verdict.PROVISIONAL
    assert run._verdict(measured(0.75), 0.0) is None
    # A sampled measurement's verdict needs SAMPLE_ERROR more on either side: at
    # about 85.7 and 84.7 a full measurement is decided, a sampled one goes on.
    assert run._verdict(measured(0.7), 0.0) is lossy.Verdict.PROVISIONAL
    assert run._verdict(measured(0.7), lossy.SAMPLE_ERROR) is None
    assert run._verdict(measured(0.79), 0.0) is lossy.Verdict.ESTIMATED
    assert run._verdict(measured(0.79), lossy.SAMPLE_ERROR) is None
    assert run._verdict(measured(0.5), lossy.SAMPLE_ERROR) is lossy.Verdict.PROVISIONAL
    assert run._verdict(measured(0.95), lossy.SAMPLE_ERROR) is lossy.Verdict.ESTIMATED


def test_the_first_family_goes_on_past_its_budget_until_something_passes(no_mozjpeg) -> None:
    # ukui's string.jpg: a third of a point per quality step near the mark. Stopped
    # at FIRST_BUDGET, nothing would pass and every challenger would aim at the
    # source's size (it passed at 2.3x the naive search's file).
    measured = {90: 83.69, 91: 84.57, 92: 84.75, 93: 85.0, 94: 85.38, 95: 86.0}

    family = quality_family()
    run = _Scripted(lambda _, q: measured[int(q)])
    run.boundary(family, family.x(90), budget=lossy.FIRST_BUDGET, challenger=False)
    assert run.best is not None and run.best.param == 94
    assert lossy.FIRST_BUDGET < run.evaluations <= lossy.MAX_SCORES
    # A challenger never goes past its budget, passing or not.
    challenger = _Scripted(lambda _, q: measured[int(q)])
    challenger.boundary(family, family.x(90), budget=2, challenger=True)
    assert challenger.evaluations <= 2


def test_once_the_offsets_are_known_near_the_mark_the_sample_decides_all_but_the_nearest() -> None:
    image = photo(size=(192, 128), seed=5)
    run = lossy._Search(image, 85.1, baseline_size=10**9)
    run.samples.append((0.2, [2.0, 3.0]))  # finer sums 2x and 3x their samples'

    def sampled(finer: float) -> quality.Measurement:
        return quality.Measurement(
            [], coarse_fast=0.2, level=None, complete=False, sampled=[finer / 5, finer / 5]
        )

    # About 85.37 and 84.83 with the offset 0.1: within the marks SAMPLE_ERROR
    # widens, so with one confirmation far from the mark both are measured in full.
    above, below = sampled(0.53), sampled(0.58)
    run.offsets.add(0.2, 0.1, 88.0)
    assert 85.1 + lossy.LEAN_BAND <= above.estimate(0.1 + 0.53) < 85.6
    assert 84.6 < below.estimate(0.1 + 0.58) < 85.1 - lossy.LEAN_BAND
    assert not run.offsets.known_near(85.1)
    assert run._after_sample(above) is None
    assert run._after_sample(below) is None
    # A confirmation within LEAN_NEAR of the mark: the sample decides both.
    run.offsets = lossy._Offsets()
    run.offsets.add(0.2, 0.1, 85.1 + lossy.LEAN_NEAR)
    assert run.offsets.known_near(85.1)
    assert run._after_sample(above) is lossy.Verdict.PROVISIONAL
    assert run._after_sample(below) is lossy.Verdict.ESTIMATED
    # ... but not one within LEAN_BAND of the mark (about 85.15): measured in full.
    near = sampled(0.55)
    assert run._after_sample(near) is None and near.predicted == 0.0
    # Two confirmations, wherever they are, read the mark as well.
    run.offsets = lossy._Offsets()
    run.offsets.add(0.2, 0.1, 88.0)
    run.offsets.add(0.1, 0.1, 87.0)
    assert run.offsets.known_near(85.1)
