"""Metadata policy applied to an image's container, never to its pixels.

One module per container (``jpeg``, ``png``, ``webp``, ``gif``), one each for
the metadata they carry (``exif``, ``xmp``), and ``policy``, which picks the
container's editor. The names below are what the rest of imgflow imports.
"""

from imgflow.imaging.metadata.exif import (
    EXIF_HEADER,
    GPS_IFD_TAG,
    ORIENTATION_TAG,
    exif_orientation,
    orientation_only_exif,
)
from imgflow.imaging.metadata.jpeg import (
    JpegSegment,
    is_multi_picture,
    jpeg_pictures,
    jpeg_segments,
)
from imgflow.imaging.metadata.png import PNG_SIGNATURE, build_png, png_chunks
from imgflow.imaging.metadata.policy import apply_policy
from imgflow.imaging.metadata.xmp import XMP_HEADER, blank_xmp_gps

__all__ = [
    "EXIF_HEADER",
    "GPS_IFD_TAG",
    "ORIENTATION_TAG",
    "PNG_SIGNATURE",
    "XMP_HEADER",
    "JpegSegment",
    "apply_policy",
    "blank_xmp_gps",
    "build_png",
    "exif_orientation",
    "is_multi_picture",
    "jpeg_pictures",
    "jpeg_segments",
    "orientation_only_exif",
    "png_chunks",
]
