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
