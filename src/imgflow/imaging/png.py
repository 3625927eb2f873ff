"""Lossless PNG optimisation with oxipng (re-filter, re-deflate, lossless reductions)."""

from __future__ import annotations

import oxipng

METHOD = "png-oxipng"


def optimize_lossless(data: bytes) -> bytes:
    """Return the PNG losslessly re-encoded, every chunk kept (metadata is policy's job).

    ``scale_16=False`` keeps 16-bit samples unless they fit 8 bits exactly.
    APNG: oxipng 9 re-codes frames without colour reductions; the caller
    still verifies every frame and its timing. Raises ``oxipng.PngError``
    on a PNG it cannot read (bad CRC, truncated data).
    """
    return oxipng.optimize_from_memory(
        data, level=2, strip=oxipng.StripChunks.none(), scale_16=False
    )
