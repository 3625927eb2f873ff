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

import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from imgflow.settings import MetadataPolicy

EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
ORIENTATION_TAG = 0x0112
GPS_IFD_TAG = 0x8825
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Bytes per value of each TIFF field type (unknown types count as 1).
_TIFF_TYPE_SIZES = {
    1: 1,
    2: 1,
    3: 2,
    4: 4,
    5: 8,
    6: 1,
    7: 1,
    8: 2,
    9: 4,
    10: 8,
    11: 4,
    12: 8,
    13: 4,
}

# XMP GPS properties (exif:GPSLatitude, drone-dji:GpsLongitude, ...) as an
# attribute or as an element; blanked with spaces, which XML ignores.
_XMP_GPS_ATTRIBUTE = re.compile(rb"""\s[\w.-]+:(?i:gps)\w*\s*=\s*("[^"]*"|'[^']*')""")
_XMP_GPS_ELEMENT = re.compile(rb"<([\w.-]+:(?i:gps)\w*)\b[^>]*?(?:/>|>.*?</\1\s*>)", re.DOTALL)


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


# --- EXIF (a TIFF structure) -------------------------------------------------


@dataclass(frozen=True)
class _Tiff:
    data: bytearray

    @property
    def endian(self) -> str:
        order = bytes(self.data[:2])
        if order == b"II":
            return "<"
        if order == b"MM":
            return ">"
        raise ValueError("EXIF has no TIFF byte-order mark")

    def u16(self, offset: int) -> int:
        return struct.unpack_from(self.endian + "H", self.data, offset)[0]

    def u32(self, offset: int) -> int:
        return struct.unpack_from(self.endian + "I", self.data, offset)[0]

    def ifd0(self) -> tuple[int, int]:
        """Offset and entry count of IFD0."""
        offset = self.u32(4)
        count = self.u16(offset)
        if offset + 2 + 12 * count + 4 > len(self.data):
            raise ValueError("EXIF IFD0 runs past the end of its segment")
        return offset, count

    def entries(self, ifd: int, count: int) -> Iterator[tuple[int, int, int, int]]:
        """(entry offset, tag, type, value count) of each entry of an IFD."""
        for i in range(count):
            entry = ifd + 2 + 12 * i
            tag, kind, n = struct.unpack_from(self.endian + "HHI", self.data, entry)
            yield entry, tag, kind, n


def exif_orientation(tiff: bytes) -> int | None:
    """The Orientation tag (1-8) of an EXIF TIFF block, or None."""
    try:
        t = _Tiff(bytearray(tiff))
        ifd, count = t.ifd0()
        for entry, tag, kind, _ in t.entries(ifd, count):
            if tag == ORIENTATION_TAG and kind == 3:
                value = t.u16(entry + 8)
                return value if 1 <= value <= 8 else None
    except (ValueError, struct.error):
        return None
    return None


def orientation_only_exif(orientation: int) -> bytes:
    """A minimal big-endian EXIF TIFF block holding only the Orientation tag."""
    return b"MM\x00\x2a" + struct.pack(">IHHHIHHI", 8, 1, ORIENTATION_TAG, 3, 1, orientation, 0, 0)


def _scrub_gps(tiff: bytes) -> bytes:
    """Remove the GPS IFD from an EXIF TIFF block, keeping its length.

    The GPS entry is cut out of IFD0 (the rest shifted down, the freed 12
    bytes zeroed) and the GPS IFD and its values are zeroed. An unparseable
    block becomes an Orientation-only block padded with zeros: location is
    never left behind because the EXIF was odd.
    """
    buf = bytearray(tiff)
    t = _Tiff(buf)
    try:
        ifd, count = t.ifd0()
        for index, (entry, tag, _, _) in enumerate(t.entries(ifd, count)):
            if tag != GPS_IFD_TAG:
                continue
            _zero_ifd(t, t.u32(entry + 8))
            end = ifd + 2 + 12 * count + 4
            start = ifd + 2 + 12 * index
            buf[start : end - 12] = buf[start + 12 : end]
            buf[end - 12 : end] = bytes(12)
            struct.pack_into(t.endian + "H", buf, ifd, count - 1)
            return bytes(buf)
        return tiff
    except (ValueError, struct.error):
        return _blank_exif(tiff)


def _zero_ifd(t: _Tiff, ifd: int) -> None:
    size = len(t.data)
    if not 8 <= ifd <= size - 2:
        return
    count = t.u16(ifd)
    for entry, _, kind, n in t.entries(ifd, min(count, (size - ifd - 2) // 12)):
        length = _TIFF_TYPE_SIZES.get(kind, 1) * n
        if length > 4:
            value = t.u32(entry + 8)
            t.data[value : min(value + length, size)] = bytes(max(0, min(length, size - value)))
    end = min(ifd + 2 + 12 * count + 4, size)
    t.data[ifd:end] = bytes(end - ifd)


def _blank_exif(tiff: bytes) -> bytes:
    """Same-length replacement keeping only the orientation (or nothing)."""
    orientation = exif_orientation(tiff)
    minimal = orientation_only_exif(orientation) if orientation else b""
    if len(minimal) > len(tiff):
        minimal = b""
    return minimal + bytes(len(tiff) - len(minimal))


def _exif_for_strip_all(tiff: bytes) -> bytes | None:
    """The EXIF block to keep under strip_all: Orientation only, or None."""
    orientation = exif_orientation(tiff)
    if orientation is None or orientation == 1:
        return None
    return orientation_only_exif(orientation)


def blank_xmp_gps(xmp: bytes) -> bytes:
    """Replace every XMP GPS property with spaces (same length)."""

    def spaces(match: re.Match[bytes]) -> bytes:
        return b" " * len(match.group(0))

    return _XMP_GPS_ATTRIBUTE.sub(spaces, _XMP_GPS_ELEMENT.sub(spaces, xmp))


# --- JPEG ----------------------------------------------------------------------

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_APP0, _APP1, _APP2, _APP14, _COM = 0xE0, 0xE1, 0xE2, 0xEE, 0xFE
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


@dataclass(frozen=True)
class JpegSegment:
    """One marker segment: ``data[start:end]`` is the marker, length and payload."""

    marker: int
    start: int
    end: int

    def payload(self, data: bytes) -> bytes:
        return data[self.start + 4 : self.end]


def jpeg_segments(data: bytes, start: int = 0) -> tuple[list[JpegSegment], int]:
    """Walk one JPEG from its SOI to its EOI.

    Returns every marker segment outside the entropy-coded data (those
    between progressive scans included) and the offset just past the EOI
    (or the end of data when the EOI is missing). Stray bytes between
    segments are skipped, as libjpeg does.
    """
    if data[start : start + 2] != b"\xff\xd8":
        raise ValueError("not a JPEG: no SOI marker")
    segments: list[JpegSegment] = []
    pos = start + 2
    size = len(data)
    while pos < size:
        marker_at = data.find(b"\xff", pos)
        if marker_at < 0:
            return segments, size
        pos = marker_at
        while pos < size and data[pos] == 0xFF:
            pos += 1
        if pos >= size:
            return segments, size
        marker = data[pos]
        pos += 1
        if marker == 0x00 or marker in _STANDALONE:
            continue
        if marker == _EOI:
            return segments, pos
        if pos + 2 > size:
            raise ValueError("JPEG ends inside a marker")
        length = struct.unpack_from(">H", data, pos)[0]
        if length < 2 or pos + length > size:
            raise ValueError(f"JPEG marker 0x{marker:02X} runs past the end of the file")
        segments.append(JpegSegment(marker, marker_at, pos + length))
        pos += length
        if marker == _SOS:
            pos = _skip_entropy_data(data, pos)
    return segments, size


def _skip_entropy_data(data: bytes, pos: int) -> int:
    """Offset of the first real marker after entropy-coded data."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return len(data)
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1 if following == 0xFF else 2
            continue
        return pos


def jpeg_pictures(data: bytes) -> list[tuple[int, list[JpegSegment], int]]:
    """(start, segments, end) of the primary picture and any pictures after it.

    MPO files and Ultra HDR JPEGs append further JPEGs (a second view, a
    gain map) after the primary's EOI; their EXIF may hold GPS too.
    """
    pictures: list[tuple[int, list[JpegSegment], int]] = []
    start = 0
    while True:
        try:
            segments, end = jpeg_segments(data, start)
        except ValueError:
            if not pictures:
                raise
            break
        pictures.append((start, segments, end))
        start = data.find(b"\xff\xd8\xff", end)
        if start < 0:
            break
    return pictures


def is_multi_picture(data: bytes) -> bool:
    """True when a JPEG carries more pictures after the first (MPO, Ultra HDR)."""
    return len(jpeg_pictures(data)) > 1


def _jpeg_policy(data: bytes, policy: MetadataPolicy) -> bytes:
    pictures = jpeg_pictures(data)
    if policy is MetadataPolicy.STRIP_GPS or len(pictures) > 1:
        # In place, so the MPF offsets of later pictures stay right. Under
        # strip_all a multi-picture file keeps its XMP: it describes the
        # other pictures (the Ultra HDR gain map) and cannot shrink in place.
        edit = _scrub_gps if policy is MetadataPolicy.STRIP_GPS else _strip_all_in_place
        buf = bytearray(data)
        for _, segments, _ in pictures:
            for seg in segments:
                _edit_jpeg_segment_in_place(buf, seg, edit)
        return bytes(buf)
    return _jpeg_strip_all(data, pictures[0][1])


def _strip_all_in_place(tiff: bytes) -> bytes:
    kept = _exif_for_strip_all(tiff) or b""
    return kept + bytes(len(tiff) - len(kept)) if len(kept) <= len(tiff) else bytes(len(tiff))


def _edit_jpeg_segment_in_place(
    buf: bytearray, seg: JpegSegment, edit_exif: Callable[[bytes], bytes]
) -> None:
    if seg.marker != _APP1:
        return
    body = seg.start + 4
    payload = bytes(buf[body : seg.end])
    if payload.startswith(EXIF_HEADER):
        tiff_at = body + len(EXIF_HEADER)
        buf[tiff_at : seg.end] = edit_exif(bytes(buf[tiff_at : seg.end]))
    elif payload.startswith(XMP_HEADER):
        buf[body : seg.end] = blank_xmp_gps(payload)


def _jpeg_strip_all(data: bytes, segments: list[JpegSegment]) -> bytes:
    out = bytearray()
    pos = 0
    for seg in segments:
        keep, replacement = _jpeg_strip_all_decision(data, seg)
        if keep:
            continue
        out += data[pos : seg.start]
        if replacement is not None:
            out += b"\xff" + bytes([_APP1]) + struct.pack(">H", len(replacement) + 2)
            out += replacement
        pos = seg.end
    out += data[pos:]
    return bytes(out)


def _jpeg_strip_all_decision(data: bytes, seg: JpegSegment) -> tuple[bool, bytes | None]:
    """(keep the segment as is, or the APP1 payload to put in its place)."""
    payload = seg.payload(data)
    if seg.marker == _COM:
        return False, None
    if not 0xE0 <= seg.marker <= 0xEF:
        return True, None
    if seg.marker == _APP0 and payload.startswith(b"JFIF\x00"):
        return True, None
    if seg.marker == _APP2 and payload.startswith(b"ICC_PROFILE\x00"):
        return True, None
    if seg.marker == _APP14 and payload.startswith(b"Adobe"):
        return True, None  # says how to read the colour channels (CMYK, YCCK)
    if seg.marker == _APP1 and payload.startswith(EXIF_HEADER):
        kept = _exif_for_strip_all(payload[len(EXIF_HEADER) :])
        return False, EXIF_HEADER + kept if kept else None
    return False, None


# --- PNG -----------------------------------------------------------------------

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


def _png_policy(data: bytes, policy: MetadataPolicy) -> bytes:
    chunks = []
    for kind, body in png_chunks(data):
        if kind == b"eXIf":
            if policy is MetadataPolicy.STRIP_GPS:
                chunks.append((kind, _scrub_gps(body)))
            elif (kept := _exif_for_strip_all(body)) is not None:
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


# --- WebP ----------------------------------------------------------------------

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


def _webp_policy(data: bytes, policy: MetadataPolicy) -> bytes:
    chunks = _webp_chunks(data)
    out = bytearray(data[:12])
    flags_cleared = 0
    for kind, start, end in chunks:
        body = data[start:end]
        if kind == b"EXIF":
            prefix = EXIF_HEADER if body.startswith(EXIF_HEADER) else b""
            tiff = body[len(prefix) :]
            if policy is MetadataPolicy.STRIP_GPS:
                body = prefix + _scrub_gps(tiff)
            elif (kept := _exif_for_strip_all(tiff)) is not None:
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


# --- GIF -----------------------------------------------------------------------

_GIF_KEEP_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")  # loop count


def _gif_blocks(data: bytes) -> Iterator[tuple[str, int, int]]:
    """(kind, start, end) of each block after the header and global colour table."""
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("not a GIF: bad header")
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    yield "header", 0, pos
    while pos < len(data):
        start = pos
        introducer = data[pos]
        if introducer == 0x3B:
            yield "trailer", start, len(data)
            return
        if introducer == 0x21:
            label = data[pos + 1]
            pos = _skip_sub_blocks(data, pos + 2)
            if label == 0xFE:
                kind = "comment"
            elif label == 0xFF:
                app = data[start + 3 : start + 14]
                kind = "app-keep" if app in _GIF_KEEP_APPS else "app"
            else:
                kind = "extension"
        elif introducer == 0x2C:
            flags = data[pos + 9]
            pos += 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
            pos = _skip_sub_blocks(data, pos + 1)
            kind = "image"
        else:
            raise ValueError(f"GIF block 0x{introducer:02X} at byte {pos} is unknown")
        yield kind, start, pos


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while True:
        if pos >= len(data):
            raise ValueError("GIF ends inside a data block")
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos


def _gif_policy(data: bytes, policy: MetadataPolicy) -> bytes:
    out = bytearray()
    for kind, start, end in _gif_blocks(data):
        block = data[start:end]
        if kind == "app" and block[3:14] == b"XMP DataXMP":
            if policy is MetadataPolicy.STRIP_ALL:
                continue
            block = block[:14] + blank_xmp_gps(block[14:])
        elif kind in ("comment", "app") and policy is MetadataPolicy.STRIP_ALL:
            continue
        out += block
    return bytes(out)


_EDITORS: dict[str, Callable[[bytes, MetadataPolicy], bytes]] = {
    "JPEG": _jpeg_policy,
    "MPO": _jpeg_policy,
    "PNG": _png_policy,
    "WEBP": _webp_policy,
    "GIF": _gif_policy,
}
