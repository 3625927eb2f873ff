"""JPEG metadata, edited at the marker-segment level (APP segments, comments)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from imgflow.imaging.metadata.exif import EXIF_HEADER, exif_for_strip_all, scrub_gps
from imgflow.imaging.metadata.xmp import XMP_HEADER, blank_xmp_gps
from imgflow.settings import MetadataPolicy

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


def jpeg_policy(data: bytes, policy: MetadataPolicy) -> bytes:
    """Apply strip_gps or strip_all to a JPEG and the pictures after it (MPO, Ultra HDR)."""
    pictures = jpeg_pictures(data)
    if policy is MetadataPolicy.STRIP_GPS or len(pictures) > 1:
        # In place, so the MPF offsets of later pictures stay right. Under
        # strip_all a multi-picture file keeps its XMP: it describes the
        # other pictures (the Ultra HDR gain map) and cannot shrink in place.
        edit = scrub_gps if policy is MetadataPolicy.STRIP_GPS else _strip_all_in_place
        buf = bytearray(data)
        for _, segments, _ in pictures:
            for seg in segments:
                _edit_jpeg_segment_in_place(buf, seg, edit)
        return bytes(buf)
    return _jpeg_strip_all(data, pictures[0][1])


def _strip_all_in_place(tiff: bytes) -> bytes:
    kept = exif_for_strip_all(tiff) or b""
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
        kept = exif_for_strip_all(payload[len(EXIF_HEADER) :])
        return False, EXIF_HEADER + kept if kept else None
    return False, None
