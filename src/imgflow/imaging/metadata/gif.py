"""GIF metadata, edited at the block level (comments, XMP and other application blocks)."""

from __future__ import annotations

from collections.abc import Iterator

from imgflow.imaging.metadata.xmp import blank_xmp_gps
from imgflow.settings import MetadataPolicy

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


def gif_policy(data: bytes, policy: MetadataPolicy) -> bytes:
    """Apply strip_gps or strip_all to a GIF's blocks."""
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
