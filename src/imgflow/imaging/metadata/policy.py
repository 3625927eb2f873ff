"""Metadata policy applied to an image's container, never to its pixels.

``keep`` returns the bytes unchanged. ``strip_gps`` removes location: the GPS
IFD of every EXIF block (also in the other pictures of an MPO / Ultra HDR
file) and ``GPS*`` properties of XMP. It edits in place without changing any
length, so offsets inside the file (MPF picture offsets, RIFF sizes) stay
valid. ``strip_all`` drops EXIF, XMP, comments and text chunks but keeps the
ICC profile, the colour chunks and the EXIF Orientation (re-written as a
one-tag EXIF), so the image still displays exactly as before.

JPEG is edited at the marker-segment level, PNG at the chunk level, WebP at
the RIFF-chunk level and GIF at the block level.
"""

from __future__ import annotations

from collections.abc import Callable

from imgflow.imaging.metadata.gif import gif_policy
from imgflow.imaging.metadata.jpeg import jpeg_policy
from imgflow.imaging.metadata.png import png_policy
from imgflow.imaging.metadata.webp import webp_policy
from imgflow.settings import MetadataPolicy


def apply_policy(data: bytes, image_format: str, policy: MetadataPolicy) -> bytes:
    """Return ``data`` with ``policy`` applied (the same object when nothing changes).

    Raises ValueError when the container cannot be parsed well enough to
    honour the policy; callers must then not publish the image as stripped.
    """
    if policy is MetadataPolicy.KEEP:
        return data
    editor = _EDITORS.get(image_format)
    if editor is None:
        raise ValueError(f"no metadata editor for {image_format}")
    result = editor(data, policy)
    return data if result == data else result


_EDITORS: dict[str, Callable[[bytes, MetadataPolicy], bytes]] = {
    "JPEG": jpeg_policy,
    "MPO": jpeg_policy,
    "PNG": png_policy,
    "WEBP": webp_policy,
    "GIF": gif_policy,
}
