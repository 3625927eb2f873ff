"""compress: smaller or the original, same pixels, metadata as the policy says."""

from __future__ import annotations

import io

import pytest
from imaging_samples import encode, exif_with, gps_of, opened, photo
from PIL import Image, ImageCms, ImageSequence

from deployment import template_limits
from imgflow.contract import Outcome
from imgflow.imaging import compress as compress_module
from imgflow.imaging import jpeg, metadata
from imgflow.imaging.compress import compress
from imgflow.imaging.validate import inspect
from imgflow.settings import CompressionMode, MetadataPolicy

LIMITS = template_limits()

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def run(data: bytes, policy: MetadataPolicy = MetadataPolicy.KEEP):
    info = inspect(data, LIMITS)
    return compress(data, info, mode=CompressionMode.LOSSLESS, metadata_policy=policy)


def frames(data: bytes) -> list[tuple]:
    image = Image.open(io.BytesIO(data))
    return [
        (f.convert("RGBA").tobytes(), f.info.get("duration"), f.info.get("disposal"))
        for f in ImageSequence.Iterator(image)
    ]


def test_lossless_jpeg_pixels_identical() -> None:
    data = encode(photo(size=(320, 240)), "JPEG", quality=90)
    result = run(data)
    assert (result.outcome, result.method) == (Outcome.COMPRESSED, "jpeg-lossless")
    assert result.bytes_out == len(result.data) < result.bytes_in == len(data)
    assert opened(result.data).tobytes() == opened(data).tobytes()


def test_icc_and_orientation_kept() -> None:
    exif = exif_with(orientation=6)
    data = encode(photo(size=(320, 240)), "JPEG", icc_profile=SRGB, exif=exif)
    result = run(data)
    assert result.outcome is Outcome.COMPRESSED
    out = opened(result.data)
    assert out.info["icc_profile"] == SRGB
    assert out.info["exif"] == opened(data).info["exif"]
    assert out.getexif()[metadata.ORIENTATION_TAG] == 6


@pytest.mark.parametrize("mode", ["CMYK", "L"])
def test_cmyk_and_grayscale_jpeg(mode: str) -> None:
    data = encode(photo(mode, size=(200, 150)), "JPEG", quality=90)
    result = run(data)
    assert result.method == "jpeg-lossless"
    out, original = opened(result.data), opened(data)
    assert out.mode == mode
    assert out.tobytes() == original.tobytes()


def test_output_never_larger() -> None:
    optimised = jpeg.optimize_lossless(encode(photo(size=(320, 240)), "JPEG"))
    result = run(optimised)
    assert result.outcome is Outcome.KEPT_ORIGINAL
    assert (result.method, result.data) == ("passthrough", optimised)
    assert result.bytes_out == result.bytes_in


def test_optimiser_output_that_changes_pixels_is_discarded(monkeypatch) -> None:
    data = encode(photo(size=(320, 240)), "JPEG", quality=95)
    monkeypatch.setattr(
        jpeg, "optimize_lossless", lambda _: encode(photo(size=(320, 240)), "JPEG", quality=20)
    )
    result = run(data)
    assert (result.outcome, result.data) == (Outcome.KEPT_ORIGINAL, data)


def test_in_lossy_mode_a_lossless_file_that_changes_pixels_is_never_kept(monkeypatch) -> None:
    # A broken optimiser's file is smaller than anything the search can make at the
    # target: it fails its check, and the search's file stands.
    data = encode(photo(size=(320, 240)), "JPEG", quality=95)
    broken = encode(photo(size=(320, 240)), "JPEG", quality=20)
    monkeypatch.setattr(jpeg, "optimize_lossless", lambda _: broken)
    result = compress(
        data,
        inspect(data, LIMITS),
        mode=CompressionMode.LOSSY,
        metadata_policy=MetadataPolicy.KEEP,
    )
    assert result.data != broken
    assert result.method.startswith("jpeg-jpegli") and result.score >= 85
    assert len(broken) < result.bytes_out < len(data)


def test_a_lossless_file_the_lossy_search_beats_is_never_decoded(monkeypatch) -> None:
    data = encode(photo(size=(320, 240)), "JPEG", quality=95)
    checked = []
    monkeypatch.setattr(
        compress_module, "_looks_the_same", lambda *a, **k: checked.append(a) or True
    )
    result = compress(
        data,
        inspect(data, LIMITS),
        mode=CompressionMode.LOSSY,
        metadata_policy=MetadataPolicy.KEEP,
    )
    assert result.method.startswith("jpeg-jpegli") and checked == []
    lossless = run(data)
    assert lossless.method == "jpeg-lossless" and len(checked) == 1


def lossy(data: bytes, target: float = 85.0):
    return compress(
        data,
        inspect(data, LIMITS),
        mode=CompressionMode.LOSSY,
        metadata_policy=MetadataPolicy.KEEP,
        quality_target=target,
    )


def test_the_lossless_transcode_is_skipped_when_it_cannot_beat_the_lossy_file(
    monkeypatch,
) -> None:
    data = encode(photo(size=(320, 240)), "JPEG", quality=97)
    monkeypatch.setattr(jpeg, "SMALL_FILE", 0)  # the rule as for a large photo
    transcoded = []
    real = jpeg.optimize_lossless
    monkeypatch.setattr(jpeg, "optimize_lossless", lambda d: transcoded.append(d) or real(d))
    result = lossy(data)
    # A sequential source: its lossless transcode saves 40% at the very most.
    assert result.bytes_out < 0.6 * len(data) and result.method.startswith("jpeg-jpegli")
    assert transcoded == []
    kept = lossy(data, target=99.9)  # nothing passes: the transcode runs, and wins
    assert kept.method == "jpeg-lossless" and len(transcoded) == 1


def test_what_the_lossless_transcode_could_save() -> None:
    sequential = encode(photo(size=(1024, 768)), "JPEG", quality=95)
    progressive = encode(photo(size=(1024, 768)), "JPEG", quality=95, progressive=True)
    assert len(sequential) >= jpeg.SMALL_FILE and len(progressive) >= jpeg.SMALL_FILE
    assert jpeg.could_beat(sequential, int(0.61 * len(sequential)))
    assert not jpeg.could_beat(sequential, int(0.59 * len(sequential)))
    assert jpeg.could_beat(progressive, int(0.91 * len(progressive)))
    assert not jpeg.could_beat(progressive, int(0.89 * len(progressive)))
    small = encode(photo(size=(64, 48)), "JPEG", quality=95)
    assert len(small) < jpeg.SMALL_FILE and jpeg.could_beat(small, 1)


def test_gps_stripped_on_request() -> None:
    data = encode(photo(), "JPEG", exif=exif_with(orientation=8, gps=True))
    assert gps_of(data)
    result = run(data, MetadataPolicy.STRIP_GPS)
    out = opened(result.data).getexif()
    assert gps_of(result.data) == {}
    assert (out[0x010F], out[metadata.ORIENTATION_TAG]) == ("Acme", 8)


def test_gps_stripped_even_when_nothing_is_saved() -> None:
    data = jpeg.optimize_lossless(encode(photo(), "JPEG", exif=exif_with(gps=True)))
    result = run(data, MetadataPolicy.STRIP_GPS)
    # New bytes to store (not "kept original", which would publish the location).
    assert (result.outcome, result.method) == (Outcome.COMPRESSED, "metadata-strip_gps")
    assert result.bytes_out == result.bytes_in
    assert gps_of(result.data) == {}


def test_keep_policy_keeps_gps() -> None:
    data = encode(photo(size=(320, 240)), "JPEG", exif=exif_with(gps=True))
    assert gps_of(run(data).data) == gps_of(data)


def test_strip_all_keeps_icc_and_orientation() -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b'<rdf:Description exif:GPSLatitude="52,22N"/></x:xmpmeta>'
    )
    data = encode(
        photo(size=(320, 240)),
        "JPEG",
        icc_profile=SRGB,
        exif=exif_with(6, gps=True),
        comment=b"hi",
        xmp=xmp,
    )
    result = run(data, MetadataPolicy.STRIP_ALL)
    out = opened(result.data)
    assert out.info["icc_profile"] == SRGB
    assert dict(out.getexif()) == {metadata.ORIENTATION_TAG: 6}
    assert "xmp" not in out.info and "comment" not in out.info
    assert out.tobytes() == opened(data).tobytes()


def test_xmp_gps_blanked_on_strip_gps() -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description exif:GPSLatitude="52,22N" '
        b'dc:format="image/jpeg"><exif:GPSLongitude>4,53E</exif:GPSLongitude></rdf:Description></x:xmpmeta>'
    )
    result = run(encode(photo(), "JPEG", xmp=xmp), MetadataPolicy.STRIP_GPS)
    assert b"GPS" not in result.data and b"52,22N" not in result.data
    assert b'dc:format="image/jpeg"' in result.data


def test_gps_stripped_from_every_picture_of_mpo() -> None:
    exif = exif_with(gps=True)
    data = encode(photo(), "MPO", save_all=True, append_images=[photo(seed=1)], exif=exif)
    result = run(data, MetadataPolicy.STRIP_GPS)
    assert result.method == "metadata-strip_gps" and result.bytes_out == result.bytes_in
    image = Image.open(io.BytesIO(result.data))
    for index in range(2):
        image.seek(index)
        assert dict(image.getexif().get_ifd(metadata.GPS_IFD_TAG)) == {}
    assert frames(result.data) == frames(data)


def test_mpo_passes_through() -> None:
    data = encode(photo(), "MPO", save_all=True, append_images=[photo(seed=1)])
    result = run(data)
    assert (result.outcome, result.method, result.data) == (
        Outcome.KEPT_ORIGINAL,
        "passthrough",
        data,
    )


def test_16bit_png_kept_16bit() -> None:
    data = encode(
        photo("L", size=(128, 96)).convert("I").point(lambda v: v * 257 + 3).convert("I;16"), "PNG"
    )
    result = run(data)
    assert result.outcome is Outcome.COMPRESSED
    out = opened(result.data)
    assert out.mode == "I;16" and result.data[24] == 16  # IHDR bit depth
    assert out.tobytes() == opened(data).tobytes()


def test_png_colour_and_exif_chunks_kept() -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add(b"gAMA", (45455).to_bytes(4, "big"))
    data = encode(
        photo(size=(160, 120)),
        "PNG",
        icc_profile=SRGB,
        dpi=(144, 144),
        exif=exif_with(6),
        pnginfo=info,
        compress_level=1,
    )
    result = run(data)
    assert result.method == "png-oxipng"
    kinds = [kind for kind, _ in metadata.png_chunks(result.data)]
    assert {b"iCCP", b"gAMA", b"pHYs", b"eXIf"} <= set(kinds)
    assert opened(result.data).getexif()[metadata.ORIENTATION_TAG] == 6


def test_gps_stripped_from_png_and_webp() -> None:
    for fmt in ("PNG", "WEBP"):
        data = encode(photo(), fmt, exif=exif_with(orientation=3, gps=True))
        result = run(data, MetadataPolicy.STRIP_GPS)
        assert gps_of(result.data) == {}, fmt
        assert opened(result.data).getexif()[metadata.ORIENTATION_TAG] == 3, fmt


def test_animated_gif_keeps_frames() -> None:
    images = [photo(seed=i).convert("P") for i in range(4)]
    data = encode(
        images[0],
        "GIF",
        save_all=True,
        append_images=images[1:],
        duration=[40, 80, 120, 160],
        loop=0,
    )
    result = run(data, MetadataPolicy.STRIP_ALL)
    assert len(frames(result.data)) == 4
    assert frames(result.data) == frames(data)


def test_apng_keeps_frames() -> None:
    images = [photo("RGBA", seed=i) for i in range(3)]
    data = encode(
        images[0],
        "PNG",
        save_all=True,
        append_images=images[1:],
        duration=[30, 60, 90],
        disposal=1,
        compress_level=1,
    )
    result = run(data)
    assert result.method == "png-oxipng"
    assert opened(result.data).n_frames == 3
    assert frames(result.data) == frames(data)
