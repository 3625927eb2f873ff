"""Fixtures shared by every test suite."""

from __future__ import annotations

import os
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
