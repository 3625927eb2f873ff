"""WebP metadata, edited at the RIFF-chunk level (EXIF, XMP and the VP8X flags)."""

from __future__ import annotations

import struct

from imgflow.imaging.metadata.exif import EXIF_HEADER, exif_for_strip_all, scrub_gps
from imgflow.imaging.metadata.xmp import blank_xmp_gps
from imgflow.settings import MetadataPolicy

_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _webp_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(fourcc, payload start, payload end) of each top-level RIFF chunk."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP: bad RIFF header")
    chunks = []
    pos = 12
    while pos + 8 <= len(data):
        kind, length = struct.unpack_from("<4sI", data, pos)
        start, end = pos + 8, pos + 8 + length
        if end > len(data):
            raise ValueError(f"WebP chunk {kind!r} runs past the end of the file")
        chunks.append((kind, start, end))
        pos = end + (length & 1)
    return chunks


def webp_policy(data: bytes, policy: MetadataPolicy) -> bytes:
    """Apply strip_gps or strip_all to a WebP's chunks, clearing the VP8X flags of those dropped."""
    chunks = _webp_chunks(data)
    out = bytearray(data[:12])
    flags_cleared = 0
    for kind, start, end in chunks:
        body = data[start:end]
        if kind == b"EXIF":
            prefix = EXIF_HEADER if body.startswith(EXIF_HEADER) else b""
            tiff = body[len(prefix) :]
            if policy is MetadataPolicy.STRIP_GPS:
                body = prefix + scrub_gps(tiff)
            elif (kept := exif_for_strip_all(tiff)) is not None:
                body = prefix + kept
            else:
                flags_cleared |= _VP8X_EXIF
                continue
        elif kind == b"XMP ":
            if policy is MetadataPolicy.STRIP_ALL:
                flags_cleared |= _VP8X_XMP
                continue
            body = blank_xmp_gps(body)
        out += struct.pack("<4sI", kind, len(body)) + body + b"\x00" * (len(body) & 1)
    struct.pack_into("<I", out, 4, len(out) - 8)
    if flags_cleared and out[12:16] == b"VP8X":
        out[20] &= ~flags_cleared & 0xFF
    return bytes(out)
