"""Lossless JPEG optimisation: re-code the entropy data, keep every DCT coefficient."""

from __future__ import annotations

import mozjpeg_lossless_optimization as mozjpeg

METHOD = "jpeg-lossless"


def optimize_lossless(data: bytes) -> bytes:
    """Return the JPEG re-encoded with optimised Huffman tables as a progressive JPEG.

    Pixels are bit-identical (jpegtran-class transcoding of the coefficients).
    Every marker is copied: ``optimize()`` drops ICC and EXIF by default. The
    result may be larger than the input (already-optimised files); the
    caller compares. Raises ValueError when mozjpeg cannot read the file.
    """
    return mozjpeg.optimize(data, copy=mozjpeg.COPY_MARKERS.ALL)
