"""Regenerates the sample images `make run` uses (committed; run only to change them).

Synthetic, so they carry no third-party licence: a photo-like JPEG as a camera
writes it (unoptimised Huffman tables, EXIF orientation, an ICC profile), a
screenshot-like PNG saved without effort, an already optimal PNG, and a
truncated JPEG that must be quarantined.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageCms, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent.parent / "samples"


def photo(width: int, height: int, seed: int) -> Image.Image:
    rng = random.Random(seed)
    image = Image.linear_gradient("L").resize((width, height))
    sky = Image.merge(
        "RGB", (image, image.point(lambda v: 90 + v // 3), Image.new("L", image.size, 200))
    )
    draw = ImageDraw.Draw(sky)
    for _ in range(60):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(4, 40)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    noise = Image.effect_noise((width, height), 24).convert("RGB")
    return Image.blend(sky.filter(ImageFilter.GaussianBlur(2)), noise, 0.12)


def camera_jpeg(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "imgflow sample camera"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif, icc_profile=icc, optimize=False)
    return out.getvalue()


def main() -> None:
    photos = HERE / "photos"
    (photos / "holiday snaps").mkdir(parents=True, exist_ok=True)
    (HERE / "broken").mkdir(exist_ok=True)
    (photos / "harbour.jpg").write_bytes(camera_jpeg(photo(960, 640, 1), orientation=1))
    (photos / "holiday snaps" / "straße 1.jpg").write_bytes(
        camera_jpeg(photo(640, 960, 2), orientation=6)
    )
    diagram = Image.new("RGB", (800, 500), "white")
    draw = ImageDraw.Draw(diagram)
    for i in range(12):
        draw.rectangle((30 + i * 62, 400 - i * 28, 80 + i * 62, 460), fill=(40, 90 + i * 12, 160))
    draw.text((30, 20), "imgflow sample chart", fill="black")
    diagram.save(photos / "chart.png", compress_level=1)
    tiny = Image.new("P", (16, 16), 0)
    tiny.putpalette([0, 0, 0, 255, 255, 255])
    tiny.save(photos / "icon.png", optimize=True)
    jpeg = camera_jpeg(photo(640, 480, 3), orientation=1)
    (HERE / "broken" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])


if __name__ == "__main__":
    main()
