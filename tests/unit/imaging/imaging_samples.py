"""Small images built with Pillow for the imaging tests (deterministic, no files)."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image, ImageFilter

from imgflow.imaging.metadata import GPS_IFD_TAG, ORIENTATION_TAG


def photo(mode: str = "RGB", size: tuple[int, int] = (96, 64), seed: int = 0) -> Image.Image:
    """A smooth, noisy picture: compresses like a photo, not like a flat fill."""
    bands = len(Image.new(mode, (1, 1)).getbands())
    rng = random.Random(seed)
    noise = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    smooth = noise.filter(ImageFilter.GaussianBlur(2))
    if bands == 4 and mode == "CMYK":
        return Image.merge("CMYK", [*smooth.split(), smooth.convert("L")])
    return smooth.convert(mode)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def exif_with(orientation: int | None = None, gps: bool = False, make: str = "Acme") -> bytes:
    exif = Image.Exif()
    exif[0x010F] = make
    if orientation is not None:
        exif[ORIENTATION_TAG] = orientation
    if gps:
        exif.get_ifd(GPS_IFD_TAG).update(
            {1: "N", 2: (52.0, 22.0, 12.5), 3: "E", 4: (4.0, 53.0, 36.0), 0: b"\x02\x02\x00\x00"}
        )
    return exif.tobytes()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def gps_of(data: bytes) -> dict:
    return dict(opened(data).getexif().get_ifd(GPS_IFD_TAG))


def png_with_header(width: int, height: int, idat: bytes = b"") -> bytes:
    """A PNG whose IHDR declares any size, followed by ``idat`` (a few bytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", idat or zlib.compress(bytes(1000)))
        + chunk(b"IEND", b"")
    )
