"""Lossy JPEG mode: smaller, scores at or above the target, presents like the original."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from imaging_samples import encode, exif_with, opened, photo
from PIL import ImageCms

from imgflow.contract import Outcome
from imgflow.imaging import jpeg, lossy, metadata, quality
from imgflow.imaging.compress import compress
from imgflow.imaging.validate import inspect
from imgflow.settings import CompressionMode, Limits, MetadataPolicy

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def run(data: bytes, target: float = 85.0, policy: MetadataPolicy = MetadataPolicy.KEEP):
    info = inspect(data, Limits())
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
    colour = lossy.pyjpegli.encode(grey.convert("RGB").tobytes(), 200, 152, 80)
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


def test_search_never_scores_candidates_that_cannot_win() -> None:
    data = encode(photo(size=(192, 128), seed=7), "JPEG", quality=96)
    found = lossy.search(data, 85.0, baseline_size=len(jpeg.optimize_lossless(data)))
    assert found.data is not None
    unscored = [c for c in found.tried if c.score is None]
    assert all(len(c.data) >= len(found.data) for c in unscored)
    assert found.evaluations == sum(c.score is not None for c in found.tried)


def test_search_entropy_optimises_only_the_winner(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    optimize = lossy.mozjpeg.optimize

    def counted(data: bytes, **options) -> bytes:
        calls.append(len(data))
        return optimize(data, **options)

    data = encode(photo(size=(192, 128), seed=7), "JPEG", quality=96)
    baseline = len(jpeg.optimize_lossless(data))
    monkeypatch.setattr(lossy.mozjpeg, "optimize", counted)
    found = lossy.search(data, 85.0, baseline_size=baseline)
    passing = [c for c in found.tried if c.score is not None and c.score >= 85.1]
    assert len(passing) >= 2  # several passed, ...
    assert len(calls) == len({c.family for c in passing})  # ... one optimisation per family
    assert opened(found.data).info.get("progressive")  # mozjpeg's progressive re-coding


def test_a_smaller_encoding_replaces_a_leader_already_optimised(monkeypatch) -> None:
    image = photo(size=(64, 64))
    big, smaller = encode(image, "JPEG", quality=95), encode(image, "JPEG", quality=93)
    run = lossy._Search(image, 85.0, baseline_size=10**9)
    run.reference = SimpleNamespace(score=lambda linear: 90.0)  # everything passes
    monkeypatch.setattr(lossy.mozjpeg, "optimize", lambda data: data[: len(data) * 8 // 10])
    assert run.probe("requant", 1.0, lambda _: big)
    assert run.best().data == big[: len(big) * 8 // 10]  # the leader is now optimised
    # Smaller than the leader's encoding, larger than its optimised bytes: still better.
    assert len(big) * 8 // 10 < len(smaller) < len(big)
    assert run.probe("requant", 1.05, lambda _: smaller)
    assert run.best().param == 1.05


@pytest.mark.parametrize(("source_quality", "requant"), [(75, True), (90, False)])
def test_requantisation_is_tried_only_below_quality_83(source_quality: int, requant: bool) -> None:
    data = encode(photo(size=(192, 128), seed=8), "JPEG", quality=source_quality)
    found = lossy.search(data, 85.0, baseline_size=len(jpeg.optimize_lossless(data)))
    assert any(c.family == "requant" for c in found.tried) is requant
    assert any(c.family == "jpegli" for c in found.tried)


class _Curve(lossy._Search):
    """The search policy over a known score curve (no encoding, no scoring)."""

    def __init__(self, scores: list[float], target: float) -> None:
        self.curve, self.target, self.probed = scores, target, []
        self.baseline_size, self.leaders, self.tried, self.evaluations = 10**9, {}, [], 0

    def probe(self, family: str, param: float, encode) -> bool:
        self.probed.append(int(param))
        self.tried.append(lossy.Candidate(family, param, b"", self.curve[int(param)]))
        return self.curve[int(param)] >= self.target


def test_search_reaches_the_boundary_of_a_flat_curve_within_its_budget() -> None:
    # Score falls 0.5 per step (half the typical slope) and passes down to index 5:
    # steps of the typical slope alone stop at index 4 when the budget runs out.
    scores = [88.0 - 0.5 * i for i in range(30)]
    run = _Curve(scores, target=85.1)
    run.seek("jpegli", list(range(30)), 0, None, budget=4, slope=1.0)
    assert len(run.probed) <= 4
    assert max(i for i in run.probed if scores[i] >= 85.1) == 5, run.probed


def test_quality_estimate_from_tables() -> None:
    for q in (50, 75, 90):
        image = opened(encode(photo(size=(64, 64)), "JPEG", quality=q))
        assert abs(jpeg.estimate_quality(list(image.quantization[0])) - q) <= 1


def test_png_palette_is_off_by_default_and_guarded_when_on() -> None:
    flat = photo(size=(160, 120), seed=2).quantize(64).convert("RGB")  # few colours
    data = encode(flat, "PNG", icc_profile=SRGB)
    info = inspect(data, Limits())
    plain = compress(data, info, mode=CompressionMode.LOSSY, metadata_policy=MetadataPolicy.KEEP)
    assert plain.method != "png-palette"
    paletted = compress(
        data,
        info,
        mode=CompressionMode.LOSSY,
        metadata_policy=MetadataPolicy.KEEP,
        png_palette=True,
    )
    assert paletted.method == "png-palette"
    assert paletted.bytes_out < plain.bytes_out
    out = opened(paletted.data)
    assert out.mode == "P"
    assert out.info["icc_profile"] == SRGB
    assert quality.score_bytes(data, paletted.data) >= 85.0


def test_png_palette_refused_when_it_would_show() -> None:
    data = encode(photo(size=(160, 120), seed=4), "PNG")  # smooth gradients, many colours
    assert png_quantize(data, 99.0) is None


def png_quantize(data: bytes, target: float) -> bytes | None:
    from imgflow.imaging import png

    return png.quantize_lossy(data, target)
