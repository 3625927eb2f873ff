"""Awkward and hostile files, built in memory so each case says what it is."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image

from imgflow.imaging.metadata import ORIENTATION_TAG

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def jpeg(size=(64, 48), mode="RGB", **save) -> bytes:
    colour = {"RGB": (200, 60, 30), "CMYK": (10, 200, 30, 5), "L": 128}[mode]
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, "JPEG", quality=95, **save)
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def gradient(size=(64, 48)) -> Image.Image:
    image = Image.new("RGB", size)
    image.putdata(
        [(x * 4 % 256, y * 5 % 256, (x + y) % 256) for y in range(size[1]) for x in range(size[0])]
    )
    return image


def noise(size=(64, 48), seed: int = 4) -> Image.Image:
    """Incompressible pixels, so that cutting the file really cuts image data."""
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + png_chunk(b"IEND", b"")
    )


def animated(fmt: str, frames: int = 3, size=(32, 32)) -> bytes:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    images = [Image.new("RGB", size, colours[i % 4]) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, fmt, save_all=True, append_images=images[1:], duration=100, loop=0)
    return buffer.getvalue()


def mpo(pictures: int = 2) -> bytes:
    """A multi-picture JPEG (stereo camera style): MPF index + appended JPEGs."""
    images = [Image.new("RGB", (48, 32), (40 * i, 90, 200)) for i in range(pictures)]
    buffer = io.BytesIO()
    images[0].save(buffer, "MPO", save_all=True, append_images=images[1:])
    return buffer.getvalue()


def ultra_hdr() -> bytes:
    """A JPEG_R-style Ultra HDR file: hdrgm XMP on the primary, a gain map after it."""
    base = mpo(2)
    xmp = (
        b"http://ns.adobe.com/xap/1.0/\x00"
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:hdrgm="http://ns.adobe.com/hdr-gain-map/1.0/" '
        b'hdrgm:Version="1.0"/></rdf:RDF></x:xmpmeta>'
    )
    # Right after SOI, before the MPF segment: MPF offsets are relative to the
    # MPF header, which moves with the gain map, so they stay valid.
    return base[:2] + b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp + base[2:]


def with_orientation(data: bytes, orientation: int) -> bytes:
    image = Image.open(io.BytesIO(data))
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def with_corrupt_exif(data: bytes) -> bytes:
    """An APP1 Exif segment whose IFD0 claims 500 entries in 20 bytes."""
    tiff = b"II*\x00" + struct.pack("<IH", 8, 500) + b"\xff" * 20
    segment = b"Exif\x00\x00" + tiff
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment + data[2:]


def bmp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buffer, "BMP")
    return buffer.getvalue()


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_dc_out_of_range() -> bytes:
    """A valid 8x8 grey JPEG whose one DC coefficient needs 12 bits.

    Decoders (Pillow's libjpeg-turbo, browsers) accept it and show a white
    square; libjpeg's *encoder* refuses such a coefficient ("DCT coefficient
    out of range") and calls exit(), so transcoding it (mozjpeg's lossless
    optimisation) ends the process that tries.
    """
    dc_counts = [0] * 16
    dc_counts[3], dc_counts[4] = 15, 1  # DC categories 0-14 in 4 bits, 15 in 5
    ac_counts = [1] + [0] * 15  # one code, "0": end of block
    bits = "1100" + "100000000000" + "0"  # category 12, value +2048, EOB
    bits += "1" * (-len(bits) % 8)
    scan = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))
    return (
        b"\xff\xd8"
        + _segment(0xDB, bytes([0]) + bytes([1] * 64))
        + _segment(0xC0, bytes([8]) + struct.pack(">HH", 8, 8) + bytes([1, 1, 0x11, 0]))
        + _segment(0xC4, bytes([0x00]) + bytes(dc_counts) + bytes(range(16)))
        + _segment(0xC4, bytes([0x10]) + bytes(ac_counts) + bytes([0]))
        + _segment(0xDA, bytes([1, 1, 0x00, 0, 63, 0]))
        + scan.replace(b"\xff", b"\xff\x00")
        + b"\xff\xd9"
    )
