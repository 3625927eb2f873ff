"""EXIF, a TIFF structure: its Orientation, and edits that keep its length.

Shared by every container that carries EXIF (a JPEG APP1 segment, a PNG
eXIf chunk, a WebP EXIF chunk).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

EXIF_HEADER = b"Exif\x00\x00"
ORIENTATION_TAG = 0x0112
GPS_IFD_TAG = 0x8825

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


def scrub_gps(tiff: bytes) -> bytes:
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


def exif_for_strip_all(tiff: bytes) -> bytes | None:
    """The EXIF block to keep under strip_all: Orientation only, or None."""
    orientation = exif_orientation(tiff)
    if orientation is None or orientation == 1:
        return None
    return orientation_only_exif(orientation)
