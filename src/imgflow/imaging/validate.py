"""Decide from the real bytes (never the key's extension) whether an image can be processed."""

from __future__ import annotations

import io
import re
import warnings

from PIL import Image, UnidentifiedImageError

from imgflow.contract import ImageInfo
from imgflow.errors import (
    EmptyObjectError,
    ImageTooLargeError,
    InvalidImageError,
    UnsupportedFormatError,
)
from imgflow.settings import Limits

# Pillow's format names; MPO is a JPEG with further pictures after the first.
SUPPORTED_FORMATS = ("JPEG", "MPO", "PNG", "GIF", "WEBP")
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF8", "GIF"),
    (b"RIFF", "RIFF (WebP?)"),
)
# How far into a file to look for a signature that junk has pushed aside.
_JUNK_SCAN = 64 * 1024
# Pillow refuses images above twice this by itself; ours is the authority, see
# follow_pixel_limit.
_PILLOW_DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
_PILLOW_BOMB = re.compile(r"Image size \((\d+) pixels\)")


def follow_pixel_limit(limits: Limits) -> None:
    """Make Pillow accept every image our own pixel limit accepts.

    Pillow refuses images above 2 x ``Image.MAX_IMAGE_PIXELS`` (~179 MP by
    default) wherever they are opened, so a MaxImagePixels above that could
    never work. Raised to the configured limit (never lowered: our own check
    runs before any decode, and a lower global would break other users of
    Pillow in the same process), Pillow only ever refuses what we refuse.
    """
    Image.MAX_IMAGE_PIXELS = max(_PILLOW_DEFAULT_MAX_PIXELS, limits.max_pixels)


def inspect(data: bytes, limits: Limits) -> ImageInfo:
    """Identify and fully decode ``data``; raise a named error for anything unusable.

    Order matters: size limits are checked from the header before any pixel
    is decoded, so a small file declaring huge dimensions costs nothing.
    """
    if not data:
        raise EmptyObjectError("the object is empty (0 bytes); upload the image again")
    if len(data) > limits.max_bytes:
        raise ImageTooLargeError(
            f"object is {_mb(len(data))}, above the {_mb(limits.max_bytes)} limit; "
            "raise MaxImageBytes to allow it"
        )
    follow_pixel_limit(limits)
    # Our own pixel limit is the authority, so Pillow's bomb warning is noise;
    # its hard DecompressionBombError (2x its own limit) becomes ours below.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)  # "malformed MPO": read as JPEG
        with _open(data, limits) as image:
            info = _header_info(image)
            _check_pixels(info, limits)
            _decode_every_frame(image, info)
    return info


def _open(data: bytes, limits: Limits) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        claimed = next((name for magic, name in _SIGNATURES if data.startswith(magic)), None)
        if claimed:
            raise InvalidImageError(
                f"the file starts like a {claimed} but its header is damaged (no {claimed} "
                "decoder accepts it); re-export the image and upload it again"
            ) from exc
        junk = _junk_before_signature(data)
        if junk:
            offset, name = junk
            raise InvalidImageError(
                f"{offset:,} bytes of junk precede the {name} header; remove them (or "
                "re-export the image) and upload it again"
            ) from exc
        raise InvalidImageError(
            f"not an image: the first bytes {data[:12]!r} match no known image format "
            "(is it a text or HTML file saved with an image extension?); "
            "upload the image itself, as JPEG, PNG, GIF or WebP"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(_bomb_message(exc, limits)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImageError(
            f"unreadable image header: {exc}; re-export the image and upload it again"
        ) from exc


def _junk_before_signature(data: bytes) -> tuple[int, str] | None:
    """(offset, format) of the first image signature after the start, if any."""
    found = [
        (offset, name)
        for magic, name in _SIGNATURES[:3]
        if (offset := data.find(magic, 0, _JUNK_SCAN)) > 0
    ]
    return min(found) if found else None


def _bomb_message(exc: Exception, limits: Limits) -> str:
    match = _PILLOW_BOMB.search(str(exc))
    pixels = int(match.group(1)) if match else 0
    declared = f"{pixels:,} pixels ({_pixels(pixels)})" if match else "too many pixels"
    return (
        f"image declares {declared}, above the {_pixels(limits.max_pixels)} limit "
        "(a decompression bomb?); refusing to decode it; raise MaxImagePixels to allow it"
    )


def _frame_bomb_message(exc: Exception, frame: int | None = None, frames: int = 1) -> str:
    """A frame whose own extent is a bomb, though the image's declared size is not."""
    match = _PILLOW_BOMB.search(str(exc))
    size = f"{int(match.group(1)):,} pixels" if match else "too many pixels"
    where = f"frame {frame + 1} of {frames}" if frame is not None and frames > 1 else "a frame"
    return (
        f"{where} declares {size}, far beyond the image's own size (a decompression "
        "bomb?); refusing to decode it; re-export the image with frames inside its canvas"
    )


def _header_info(image: Image.Image) -> ImageInfo:
    image_format = image.format or "unknown"
    if image_format not in SUPPORTED_FORMATS:
        raise UnsupportedFormatError(
            f"{image_format} images are not supported; upload JPEG, PNG, GIF or WebP"
        )
    try:
        frames = getattr(image, "n_frames", 1)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(_frame_bomb_message(exc)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImageError(f"{image_format} frame headers are corrupt: {exc}") from exc
    width, height = image.size
    return ImageInfo(
        format=image_format, width=width, height=height, mode=image.mode, frames=frames
    )


def _check_pixels(info: ImageInfo, limits: Limits) -> None:
    pixels = info.width * info.height * info.frames
    if pixels <= limits.max_pixels:
        return
    frames = f" x {info.frames} frames" if info.frames > 1 else ""
    raise ImageTooLargeError(
        f"image is {info.width}x{info.height}{frames} = {_pixels(pixels)}, above the "
        f"{_pixels(limits.max_pixels)} limit; raise MaxImagePixels to allow it"
    )


def _decode_every_frame(image: Image.Image, info: ImageInfo) -> None:
    frame = 0
    try:
        for frame in range(info.frames):
            image.seek(frame)
            image.load()
    except MemoryError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(_frame_bomb_message(exc, frame, info.frames)) from exc
    except Exception as exc:
        # Any decoder failure means the bytes are damaged; the decoders raise
        # OSError, SyntaxError, ValueError, EOFError, zlib and struct errors.
        where = f"frame {frame + 1} of {info.frames}" if info.frames > 1 else "the image data"
        raise InvalidImageError(
            f"{info.format} is corrupt or truncated: decoding {where} failed ({exc}); "
            "re-export the image or upload the complete file again"
        ) from exc


def _pixels(count: int) -> str:
    return f"{count / 1e6:g} MP" if count >= 100_000 else f"{count:,} pixels"


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{size} bytes"
