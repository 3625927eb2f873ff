"""PNG metadata, edited at the chunk level (eXIf, text chunks, tIME)."""

from __future__ import annotations

import struct
import zlib

from imgflow.imaging.metadata.exif import exif_for_strip_all, scrub_gps
from imgflow.imaging.metadata.xmp import blank_xmp_gps
from imgflow.settings import MetadataPolicy

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_PNG_TEXT = {b"tEXt", b"zTXt", b"iTXt"}
_RAW_PROFILES = (b"raw profile type exif", b"raw profile type app1", b"raw profile type xmp")


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk of a PNG; the CRCs are not checked here."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG: bad signature")
    chunks = []
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise ValueError(f"PNG chunk {kind!r} runs past the end of the file")
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos = end
        if kind == b"IEND":
            break
    return chunks


def build_png(chunks: list[tuple[bytes, bytes]]) -> bytes:
    out = bytearray(PNG_SIGNATURE)
    for kind, body in chunks:
        out += struct.pack(">I4s", len(body), kind) + body
        out += struct.pack(">I", zlib.crc32(kind + body))
    return bytes(out)


def png_policy(data: bytes, policy: MetadataPolicy) -> bytes:
    """Apply strip_gps or strip_all to a PNG's chunks."""
    chunks = []
    for kind, body in png_chunks(data):
        if kind == b"eXIf":
            if policy is MetadataPolicy.STRIP_GPS:
                chunks.append((kind, scrub_gps(body)))
            elif (kept := exif_for_strip_all(body)) is not None:
                chunks.append((kind, kept))
        elif kind in _PNG_TEXT:
            if policy is MetadataPolicy.STRIP_GPS and (text := _png_text_without_gps(kind, body)):
                chunks.append((kind, text))
        elif kind == b"tIME" and policy is MetadataPolicy.STRIP_ALL:
            continue
        else:
            chunks.append((kind, body))
    return build_png(chunks)


def _png_text_without_gps(kind: bytes, body: bytes) -> bytes | None:
    """The text chunk with XMP GPS blanked; None to drop it (raw EXIF profiles)."""
    keyword = body.split(b"\x00", 1)[0]
    if keyword.lower() in _RAW_PROFILES:
        return None  # ImageMagick's hex-encoded EXIF/XMP: drop rather than parse
    if kind != b"iTXt" or keyword != b"XML:com.adobe.xmp":
        return body
    # iTXt: keyword \0 compression-flag compression-method language \0 translated \0 text
    head, rest = body.split(b"\x00", 1)
    flag, method, rest = rest[0], rest[1], rest[2:]
    language, translated, text = rest.split(b"\x00", 2)
    xmp = zlib.decompress(text) if flag else text
    xmp = blank_xmp_gps(xmp)
    text = zlib.compress(xmp) if flag else xmp
    return head + b"\x00" + bytes([flag, method]) + language + b"\x00" + translated + b"\x00" + text
