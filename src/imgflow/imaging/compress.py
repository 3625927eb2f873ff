"""Make an image smaller without changing how it looks, or keep it as it is.

Decisions:
- The output is never larger than the input: if the optimiser cannot beat
  the input, the input is kept.
- The metadata policy is applied first and is a promise, not an
  optimisation: with ``strip_gps`` or ``strip_all`` the returned bytes are
  the stripped ones even when that saves nothing (GPS is blanked in place,
  so the size can stay the same). Such a result has outcome ``compressed``
  (new bytes to store): ``kept_original`` means the caller may copy the
  original object itself, which would publish the location.
- Every losslessly optimised result is decoded and compared with its input
  before it is returned (size, mode, every frame's pixels and timing, ICC,
  EXIF and its orientation); a result that differs is discarded. One that
  a lossy result beats is never returned, so never decoded; in lossy mode
  the lossless optimiser runs only when its file could beat the lossy one
  (``jpeg.could_beat``).
- Lossy mode (JPEG only): the smallest re-encoding whose SSIMULACRA2 against
  the decoded input is at or above ``quality_target`` (see ``lossy``), with
  the input's EXIF (orientation included), ICC, XMP and IPTC copied in; it
  is used only when smaller than the input and the lossless result.
  Grayscale stays grayscale. CMYK/YCCK JPEGs take the lossless path: re-encoding them would
  need a colour conversion through their (often absent) ICC profile, and the
  print workflows that produce them expect CMYK back.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import oxipng
from PIL import Image, ImageSequence

from imgflow.contract import ImageInfo, Outcome
from imgflow.errors import InvalidImageError
from imgflow.imaging import jpeg, lossy, metadata, png
from imgflow.settings import CompressionMode, MetadataPolicy

PASSTHROUGH = "passthrough"


@dataclass(frozen=True)
class CompressedImage:
    """The bytes to publish and what was done to them."""

    data: bytes
    outcome: Outcome  # COMPRESSED (new bytes) or KEPT_ORIGINAL (the input, unchanged)
    method: str  # "jpeg-lossless", "png-oxipng", "metadata-strip_gps", "passthrough"
    format: str
    bytes_in: int
    bytes_out: int
    score: float | None = None  # SSIMULACRA2 of a lossy result; None: pixels unchanged


def compress(
    data: bytes,
    info: ImageInfo,
    *,
    mode: CompressionMode,
    metadata_policy: MetadataPolicy,
    quality_target: float = 85.0,
) -> CompressedImage:
    """Optimise an image ``validate.inspect`` accepted; see the module docstring for the rules.

    Raises InvalidImageError when the metadata policy cannot be honoured (a
    container too damaged to edit safely).
    """
    baseline = _apply_policy(data, info, metadata_policy)
    method = PASSTHROUGH if baseline is data else f"metadata-{metadata_policy}"
    if baseline is not data and not _looks_the_same(data, baseline, compare_exif=False):
        raise InvalidImageError(
            f"removing metadata ({metadata_policy}) changed the {info.format} image; "
            "the file's structure is too unusual to edit safely"
        )
    result, score = baseline, None
    search = mode is CompressionMode.LOSSY and _lossy_applies(baseline, info)
    found = _try_lossy(baseline, quality_target, len(baseline)) if search else None
    # The lossless transcode costs about one lossy score; it runs only if its file
    # could beat the lossy one, and is checked (two full decodes) only if kept.
    lossless: tuple[bytes, str] | None = None
    if found is None or jpeg.could_beat(baseline, len(found[0])):
        lossless = _lossless(baseline, info)
    if lossless is not None and (found is None or len(lossless[0]) < len(found[0])):
        candidate, name = lossless
        if _looks_the_same(baseline, candidate, compare_exif=True):
            result, method, found = candidate, name, None
    if found is not None:
        result, method, score = found
    outcome = Outcome.KEPT_ORIGINAL if result is data else Outcome.COMPRESSED
    return CompressedImage(result, outcome, method, info.format, len(data), len(result), score)


def _lossless(data: bytes, info: ImageInfo) -> tuple[bytes, str] | None:
    """The format's lossless optimiser's output and method name, if smaller; unchecked."""
    optimise = _optimiser(data, info)
    if optimise is None:
        return None
    name, run = optimise
    candidate = _try(run, data)
    return (candidate, name) if candidate is not None and len(candidate) < len(data) else None


def _apply_policy(data: bytes, info: ImageInfo, policy: MetadataPolicy) -> bytes:
    try:
        return metadata.apply_policy(data, info.format, policy)
    except (ValueError, IndexError) as exc:
        raise InvalidImageError(
            f"cannot apply metadata policy {policy} to this {info.format}: {exc}"
        ) from exc


def _optimiser(data: bytes, info: ImageInfo) -> tuple[str, Callable[[bytes], bytes]] | None:
    if info.format == "JPEG" and not metadata.is_multi_picture(data):
        # An MPO / Ultra HDR file's later pictures sit at offsets the primary's
        # MPF header records; jpegtran would drop them, so such files pass through.
        return jpeg.METHOD, jpeg.optimize_lossless
    if info.format == "PNG":
        return png.METHOD, png.optimize_lossless
    return None  # GIF, WebP, MPO: passed through safely


def _lossy_applies(data: bytes, info: ImageInfo) -> bool:
    return (
        info.format == "JPEG"
        and info.mode in ("RGB", "L")
        and info.frames == 1
        and not metadata.is_multi_picture(data)
    )


def _try_lossy(data: bytes, target: float, size_to_beat: int) -> tuple[bytes, str, float] | None:
    """The perceptual search's file with the source's metadata, its method and score,
    if smaller than ``size_to_beat``."""
    try:
        found = lossy.search(data, target, baseline_size=size_to_beat)
    except (ValueError, OSError):
        return None  # an encoder refused the image: the lossless result stands
    if found.data is None:
        return None
    candidate = jpeg.with_metadata(found.data, data)
    if len(candidate) >= size_to_beat or not _same_presentation(data, candidate):
        return None
    return candidate, found.method, round(found.score, 2)


def _same_presentation(before: bytes, after: bytes) -> bool:
    """Same size, mode, ICC, EXIF (and so orientation): only the pixels may differ."""
    try:
        with Image.open(io.BytesIO(before)) as a, Image.open(io.BytesIO(after)) as b:
            return (
                a.size == b.size
                and a.mode == b.mode
                and a.info.get("icc_profile") == b.info.get("icc_profile")
                and a.info.get("exif") == b.info.get("exif")
            )
    except (OSError, ValueError, SyntaxError):
        return False


def _try(run: Callable[[bytes], bytes], data: bytes) -> bytes | None:
    try:
        return run(data)
    except (ValueError, oxipng.PngError):
        return None  # the optimiser could not read it: keep the input


def _looks_the_same(before: bytes, after: bytes, *, compare_exif: bool) -> bool:
    """Same size, pixels, frames, timing, ICC and orientation (and EXIF if asked)."""
    try:
        with Image.open(io.BytesIO(before)) as a, Image.open(io.BytesIO(after)) as b:
            if a.size != b.size or getattr(a, "n_frames", 1) != getattr(b, "n_frames", 1):
                return False
            if a.info.get("icc_profile") != b.info.get("icc_profile"):
                return False
            if _orientation(a) != _orientation(b):
                return False
            if compare_exif and a.info.get("exif") != b.info.get("exif"):
                return False
            return all(
                _frame_signature(fa) == _frame_signature(fb)
                for fa, fb in zip(ImageSequence.Iterator(a), ImageSequence.Iterator(b), strict=True)
            )
    except (OSError, ValueError, SyntaxError, EOFError):
        return False


def _orientation(image: Image.Image) -> int:
    return image.getexif().get(metadata.ORIENTATION_TAG) or 1  # absent means 1, upright


def _frame_signature(frame: Image.Image) -> tuple[Any, ...]:
    timing = tuple(frame.info.get(k) for k in ("duration", "disposal", "blend", "loop"))
    return (*timing, _canonical(frame).tobytes())


def _canonical(frame: Image.Image) -> Image.Image:
    """Pixels in a mode both sides convert to exactly (an optimiser may change the mode)."""
    if frame.mode in ("I;16", "I;16B", "I;16L", "I"):
        return frame if frame.mode == "I" else frame.convert("I")
    if frame.mode in ("CMYK", "YCbCr", "LAB"):
        return frame  # JPEG colour spaces: lossless transcoding keeps the mode
    return frame.convert("RGBA")
