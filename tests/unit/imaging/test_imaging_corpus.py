"""Every corpus file ends compressed correctly or rejected with a named error."""

from __future__ import annotations

from pathlib import Path

import pytest
from imaging_samples import opened

from deployment import template_limits
from imgflow.contract import Outcome
from imgflow.errors import (
    EmptyObjectError,
    ImageTooLargeError,
    InvalidImageError,
    UnsupportedFormatError,
)
from imgflow.imaging import metadata
from imgflow.imaging.compress import compress
from imgflow.imaging.validate import inspect
from imgflow.settings import CompressionMode, MetadataPolicy

LIMITS = template_limits()

NAMED_ERRORS = (InvalidImageError, UnsupportedFormatError, ImageTooLargeError, EmptyObjectError)

# Files that are damaged on purpose (Pillow's test suite): they must be refused.
KNOWN_BAD = {
    "truncated_jpeg.jpg": InvalidImageError,
    "ultrahdr.jpg": InvalidImageError,  # cut off right after a scan header
    "broken.png": InvalidImageError,
    "broken_data_stream.png": InvalidImageError,
}

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.filterwarnings("ignore:Image appears to be a malformed MPO file"),
]


def process(path: Path, policy: MetadataPolicy) -> tuple[bytes, bytes | Exception]:
    data = path.read_bytes()
    try:
        info = inspect(data, LIMITS)
        result = compress(data, info, mode=CompressionMode.LOSSLESS, metadata_policy=policy)
    except NAMED_ERRORS as exc:
        return data, exc
    assert result.bytes_in == len(data) and result.bytes_out == len(result.data)
    if result.outcome is Outcome.KEPT_ORIGINAL:
        assert result.data is data
    if policy is MetadataPolicy.KEEP:
        assert result.bytes_out <= result.bytes_in, path.name
    return data, result.data


def assert_same_picture(name: str, before: bytes, after: bytes, *, pixels: bool) -> None:
    a, b = opened(before), opened(after)
    assert (a.size, getattr(a, "n_frames", 1)) == (b.size, getattr(b, "n_frames", 1)), name
    if a.format == "JPEG":
        assert a.mode == b.mode, name  # oxipng may change a PNG's colour type, losslessly
    orientation = metadata.ORIENTATION_TAG
    assert (a.getexif().get(orientation) or 1) == (b.getexif().get(orientation) or 1), name
    assert a.info.get("icc_profile") == b.info.get("icc_profile"), name
    if pixels:
        assert a.convert("RGBA").tobytes() == b.convert("RGBA").tobytes(), name


@pytest.mark.parametrize("policy", list(MetadataPolicy))
def test_every_edge_file_compresses_or_is_rejected_by_name(
    corpus: Path, policy: MetadataPolicy
) -> None:
    for path in sorted((corpus / "edge").iterdir()):
        before, outcome = process(path, policy)
        if path.name in KNOWN_BAD:
            assert isinstance(outcome, KNOWN_BAD[path.name]), (path.name, outcome)
            assert str(outcome), path.name
            continue
        assert isinstance(outcome, bytes), (path.name, outcome)
        assert_same_picture(path.name, before, outcome, pixels=True)
        if policy is not MetadataPolicy.KEEP:
            assert dict(opened(outcome).getexif().get_ifd(metadata.GPS_IFD_TAG)) == {}, path.name


def test_every_photo_compresses_losslessly(corpus: Path) -> None:
    saved = 0
    for path in sorted((corpus / "photos").iterdir()):
        before, after = process(path, MetadataPolicy.KEEP)
        assert isinstance(after, bytes), (path.name, after)
        assert_same_picture(path.name, before, after, pixels=True)
        saved += len(before) - len(after)
    assert saved > 0
