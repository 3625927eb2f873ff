"""validate.inspect: the real bytes decide, and nothing unnamed escapes."""

from __future__ import annotations

import warnings
from dataclasses import replace

import pytest
from imaging_samples import encode, photo, png_with_header
from PIL import Image

from deployment import template_limits
from imgflow.errors import (
    EmptyObjectError,
    ImageTooLargeError,
    InvalidImageError,
    UnsupportedFormatError,
)
from imgflow.imaging.validate import inspect

LIMITS = template_limits()


@pytest.mark.parametrize(
    ("fmt", "mode"), [("JPEG", "RGB"), ("PNG", "RGBA"), ("GIF", "P"), ("WEBP", "RGB")]
)
def test_supported_image_reports_format_and_size(fmt: str, mode: str) -> None:
    info = inspect(encode(photo(mode if fmt != "GIF" else "RGB"), fmt), LIMITS)
    assert (info.format, info.width, info.height, info.frames) == (fmt, 96, 64, 1)
    assert info.mode == mode


def test_empty_object_is_rejected() -> None:
    with pytest.raises(EmptyObjectError, match="0 bytes"):
        inspect(b"", LIMITS)


def test_object_over_byte_limit_is_too_large() -> None:
    data = encode(photo(), "JPEG")
    with pytest.raises(ImageTooLargeError, match="MaxImageBytes"):
        inspect(data, replace(LIMITS, max_bytes=len(data) - 1))


def test_text_saved_as_jpg_is_invalid() -> None:
    with pytest.raises(InvalidImageError, match="not an image"):
        inspect(b"<!DOCTYPE html><html><body>404 Not Found</body></html>", LIMITS)


def test_truncated_jpeg_is_invalid() -> None:
    data = encode(photo(size=(256, 256)), "JPEG", quality=95)
    with pytest.raises(InvalidImageError, match="truncated"):
        inspect(data[: len(data) // 2], LIMITS)


def test_truncated_png_is_invalid() -> None:
    data = encode(photo(size=(256, 256)), "PNG")
    with pytest.raises(InvalidImageError):
        inspect(data[: len(data) // 2], LIMITS)


def test_damaged_png_header_says_it_looks_like_a_png() -> None:
    with pytest.raises(InvalidImageError, match="starts like a PNG"):
        inspect(b"\x89PNG\r\n\x1a\n" + bytes(64), LIMITS)


def test_unsupported_format_is_named() -> None:
    with pytest.raises(UnsupportedFormatError, match="BMP"):
        inspect(encode(photo(), "BMP"), LIMITS)


def test_decompression_bomb_rejected_before_decode() -> None:
    # 100000x100000 declared in 74 bytes; Pillow's own hard limit fires first.
    bomb = png_with_header(100_000, 100_000)
    assert len(bomb) < 300
    with pytest.raises(ImageTooLargeError, match="pixels"):
        inspect(bomb, LIMITS)


def test_image_over_pixel_limit_rejected_from_header() -> None:
    # 12000x10000 = 120 MP: under Pillow's hard limit, over ours. Its pixel data
    # is missing, so decoding it would raise InvalidImageError instead.
    with pytest.raises(ImageTooLargeError, match=r"12000x10000 = 120 MP.*100 MP limit"):
        inspect(png_with_header(12_000, 10_000), LIMITS)


def test_pillow_bomb_warning_never_escapes() -> None:
    # Over Pillow's warning threshold, within a raised limit: no warning, a named error.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InvalidImageError):
            inspect(png_with_header(12_000, 10_000), replace(LIMITS, max_pixels=150_000_000))


def test_animation_frames_count_against_pixel_limit() -> None:
    frames = [photo(seed=i).convert("P") for i in range(10)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    assert inspect(data, LIMITS).frames == 10
    with pytest.raises(ImageTooLargeError, match="10 frames"):
        inspect(data, replace(LIMITS, max_pixels=96 * 64 * 9))


def test_truncated_animation_is_invalid() -> None:
    frames = [photo(seed=i, size=(128, 128)) for i in range(4)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    with pytest.raises(InvalidImageError):
        inspect(data[: int(len(data) * 0.8)], LIMITS)


def test_mpo_is_a_jpeg_noted_as_mpo() -> None:
    data = encode(photo(), "MPO", save_all=True, append_images=[photo(seed=1)])
    info = inspect(data, LIMITS)
    assert (info.format, info.frames) == ("MPO", 2)


def test_image_is_reported_with_pillow_mode() -> None:
    assert inspect(encode(Image.new("I;16", (8, 8)), "PNG"), LIMITS).mode == "I;16"
