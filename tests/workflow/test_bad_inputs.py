"""The bad-input catalogue: every awkward or hostile file, through the real state machine.

Each case ends compressed correctly or quarantined with a specific error and
an actionable message (tests/workflow/verdicts.py says exactly what each
verdict checks). The uploads of one group share a stack: they run
concurrently, as a burst of real uploads would.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from bad_images import (
    animated,
    bmp,
    gradient,
    jpeg,
    jpeg_dc_out_of_range,
    mpo,
    noise,
    png,
    png_declaring,
    ultra_hdr,
    with_corrupt_exif,
    with_orientation,
)
from PIL import Image
from verdicts import (
    assert_accounted_for,
    assert_compressed_correctly,
    assert_quarantined,
    run_uploads,
)
from workflow_support import sample

from deployment import template_limits

REJECTED = {
    # key: (bytes, error type, what the message must say)
    "zero-byte.jpg": (b"", "EmptyObjectError", "empty"),
    "notes.txt.jpg": (b"shopping list: eggs, milk\n", "InvalidImageError", "not an image"),
    "page.html.png": (
        b"<!doctype html><html><body>404</body></html>",
        "InvalidImageError",
        "text or HTML",
    ),
    "truncated.jpg": (sample("broken/truncated.jpg"), "InvalidImageError", "truncated"),
    "truncated.png": (png(noise())[:4000], "InvalidImageError", "truncated"),
    "junk-before-header.jpg": (
        b"GARBAGE!" + jpeg(),
        "InvalidImageError",
        "8 bytes of junk precede the JPEG header",
    ),
    # Declares 10,000 MP in a few bytes: refused from the header, nothing decoded
    # (beyond Pillow's own hard limit, so this proves its error becomes ours).
    "bomb-10000mp.png": (
        png_declaring(100_000, 100_000),
        "ImageTooLargeError",
        "decompression bomb",
    ),
    # 120 MP: above our 100 MP default but below Pillow's hard limit (our check).
    "bomb-120mp.png": (png_declaring(12_000, 10_000), "ImageTooLargeError", "raise MaxImagePixels"),
    "bitmap.png": (bmp(), "UnsupportedFormatError", "BMP"),
}

ACCEPTED = {
    "cmyk.jpg": jpeg(mode="CMYK"),
    "grey.jpg": jpeg(mode="L"),
    "progressive.jpg": jpeg(progressive=True),
    "png16.png": png(Image.new("I;16", (40, 30), 40000)),
    "animated.gif": animated("GIF"),
    "animated-apng.png": animated("PNG"),
    "animated.webp": animated("WEBP"),
    "stereo.mpo.jpg": mpo(),
    "ultra-hdr.jpg": ultra_hdr(),
    "trailing-after-iend.png": png(gradient()) + b"data after IEND" * 10,
    "corrupt-exif.jpg": with_corrupt_exif(jpeg()),
    "rotated-6.jpg": with_orientation(jpeg((80, 40)), 6),
    "rotated-8.jpg": with_orientation(jpeg((80, 40)), 8),
    # Valid, but libjpeg's encoder calls exit() on it: the lossless optimiser
    # runs in a child process, so the image is kept, not the function killed.
    "dc-out-of-range.jpg": jpeg_dc_out_of_range(),
}

# Every file of ../shared/corpus/edge that must be rejected, and why; every
# other file there (present or added later) must be compressed correctly.
EDGE_REJECTED = {
    "broken.png": ("InvalidImageError", "header is damaged"),
    "broken_data_stream.png": ("InvalidImageError", "corrupt"),
    "truncated_jpeg.jpg": ("InvalidImageError", "truncated"),
    # Pillow's test file is cut short after the primary image's scan header
    # (no EOI, no gain map): a truncated upload, whatever its XMP promises.
    "ultrahdr.jpg": ("InvalidImageError", "truncated"),
}


@pytest.fixture(scope="module")
def catalogue():
    cases = {key: data for key, (data, _, _) in REJECTED.items()}
    return run_uploads({**cases, **ACCEPTED})


@pytest.fixture(scope="module")
def edge(corpus):
    files = sorted((corpus / "edge").iterdir())
    assert files, "the edge corpus is empty"
    return run_uploads({f"edge/{f.name}": f.read_bytes() for f in files})


@pytest.mark.parametrize("key", sorted(REJECTED))
def test_bad_input_is_quarantined_with_a_specific_actionable_error(catalogue, key):
    _, error_type, says = REJECTED[key]
    assert_quarantined(catalogue[key], error_type, says)


@pytest.mark.parametrize("key", sorted(ACCEPTED))
def test_awkward_but_valid_input_is_compressed_correctly(catalogue, key):
    assert_compressed_correctly(catalogue[key])


def test_bombs_are_refused_without_being_decoded(catalogue):
    for key in ("bomb-10000mp.png", "bomb-120mp.png"):
        assert catalogue[key].path == [
            "Validate image",
            "Quarantine original",
            "Notify failure",
            "Failed",
        ]


@pytest.mark.parametrize("name", sorted(EDGE_REJECTED))
def test_known_bad_corpus_file_is_quarantined(edge, name):
    error_type, says = EDGE_REJECTED[name]
    assert_quarantined(edge[f"edge/{name}"], error_type, says)


def test_every_other_corpus_edge_file_is_compressed_correctly(edge):
    others = [v for key, v in edge.items() if key.removeprefix("edge/") not in EDGE_REJECTED]
    assert len(others) >= 10
    for verdict in others:
        assert_compressed_correctly(verdict)


def test_every_corpus_edge_file_is_accounted_for(edge):
    for verdict in edge.values():
        assert_accounted_for(verdict)


# Limits, set small through the template's parameters.


def test_image_above_the_pixel_limit_is_quarantined():
    verdicts = run_uploads(
        {"big.png": png(gradient((40, 30))), "anim.gif": animated("GIF", frames=3, size=(20, 20))},
        {"MaxImagePixels": "1000"},
    )
    assert_quarantined(verdicts["big.png"], "ImageTooLargeError", "40x30 = 1,200 pixels")
    assert_quarantined(verdicts["anim.gif"], "ImageTooLargeError", "x 3 frames")


def test_image_above_the_byte_limit_is_quarantined_before_it_is_read():
    verdicts = run_uploads({"harbour.jpg": sample("photos/harbour.jpg")}, {"MaxImageBytes": "1000"})
    assert_quarantined(verdicts["harbour.jpg"], "ImageTooLargeError", "raise MaxImageBytes")


def test_pixel_limit_above_pillows_own_is_honoured():
    # Pillow alone refuses > 179 MP; MaxImagePixels=300 MP must make 200 MP
    # reach our own check (and pass it), not die in Pillow.
    from imgflow.errors import InvalidImageError
    from imgflow.imaging.validate import inspect

    limits = replace(template_limits(), max_pixels=300_000_000)
    with pytest.raises(InvalidImageError):
        inspect(png_declaring(20_000, 10_000), limits)
