"""Fixtures shared by every test suite."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("IMGFLOW_CORPUS", REPO.parent / "shared" / "corpus"))

# No test may reach real AWS: fake credentials and a fixed region everywhere.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "imgflow-tests")


# Each suite's folder is also its marker (``pytest -m unit``); pyproject declares them.
SUITES = ("unit", "integration", "workflow", "template", "ops", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(REPO / "tests").parts
        if len(parts) > 1 and parts[0] in SUITES:
            item.add_marker(parts[0])


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def corpus() -> Path:
    """../shared/corpus; tests that need it skip, with the reason, in a user's clone."""
    if not CORPUS.is_dir():
        pytest.skip(f"test corpus not found at {CORPUS} (only the project's CI has ../shared)")
    return CORPUS


@pytest.fixture
def decompression_bomb(tmp_path: Path) -> Path:
    """A 45-byte PNG whose header declares 30000x30000 pixels (900 MP)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", 30_000, 30_000, 8, 0, 0, 0, 0)
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="session")
def synthetic_reports():
    """``make(n)``: n report entries as a large run gives them, without running one.

    Every 50th image is rejected with its own message; the rest are
    compressed by 0-99% in four formats and 60 sizes, a quarter of them
    (the JPEGs) lossy with a score from 85.1 up.
    """
    from imgflow.contract import ErrorInfo
    from imgflow_toolkit.report.images import ImageReport

    formats = ["JPEG", "PNG", "GIF", "WEBP"]

    def make(n: int) -> list[ImageReport]:
        reports = []
        for i in range(n):
            if i % 50 == 7:
                error = ErrorInfo(type="InvalidImageError", message=f"image {i} is truncated")
                reports.append(
                    ImageReport(f"f/{i}.jpg", "FAILED", "rejected", 900, None, error, None)
                )
                continue
            size = 10_000 + i
            kind = formats[i % 4]
            reports.append(
                ImageReport(
                    f"d{i % 7}/img-{i:05d}.{kind.lower()}",
                    "SUCCEEDED",
                    "compressed",
                    size,
                    size * (i % 100) // 100,
                    None,
                    None,
                    format=kind,
                    megapixels=(i % 60) + 0.5,
                    method="jpeg-jpegli-q-88" if kind == "JPEG" else None,
                    score=85.1 + (i % 30) / 10 if kind == "JPEG" else None,
                )
            )
        return reports

    return make
