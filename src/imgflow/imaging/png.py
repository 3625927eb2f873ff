"""Lossless PNG optimisation with oxipng (re-filter, re-deflate, lossless reductions)."""

from __future__ import annotations

import io

import oxipng
from PIL import Image

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


PALETTE_METHOD = "png-palette"
# Chunks that describe the picture, copied from the source into a quantised file.
_COPIED_CHUNKS = {b"iCCP", b"sRGB", b"gAMA", b"cHRM", b"eXIf", b"pHYs", b"tEXt", b"zTXt", b"iTXt"}


def quantize_lossy(data: bytes, target: float, *, margin: float = 0.1) -> bytes | None:
    """An 8-bit palette version of a truecolour PNG if it scores >= ``target``, else None.

    Uses Pillow's own quantisers (median cut for RGB, fast octree for RGBA;
    both under Pillow's permissive licence, not the GPL libimagequant) with
    Floyd-Steinberg dithering, then oxipng. The source's colour and metadata
    chunks are carried over. 16-bit, palette, grey and animated PNGs: None.
    """
    from imgflow.imaging import metadata, quality  # numpy only when this optional path runs

    with Image.open(io.BytesIO(data)) as image:
        if image.mode not in ("RGB", "RGBA") or getattr(image, "n_frames", 1) > 1:
            return None
        image.load()
        method = Image.Quantize.MEDIANCUT if image.mode == "RGB" else Image.Quantize.FASTOCTREE
        paletted = image.quantize(256, method=method, dither=Image.Dither.FLOYDSTEINBERG)
        buffer = io.BytesIO()
        paletted.save(buffer, "PNG")
        reference = quality.Reference(quality.linear_rgb(image, orient=False), exact_from=2)
        score = reference.score(quality.linear_rgb(paletted.convert(image.mode), orient=False))
    if score < target + margin:
        return None
    chunks = metadata.png_chunks(buffer.getvalue())
    copied = [c for c in metadata.png_chunks(data) if c[0] in _COPIED_CHUNKS]
    rebuilt = metadata.build_png(
        [chunks[0], *copied, *(c for c in chunks[1:] if c[0] not in _COPIED_CHUNKS)]
    )
    return optimize_lossless(rebuilt)
