"""The real template and ASL on the embedded runtime, one fresh stack per test."""

from __future__ import annotations

import pytest

from imgflow_toolkit.local.runtime import EmbeddedStack


@pytest.fixture
def stack(repo):
    with EmbeddedStack(repo / "template.yaml") as running:
        yield running


@pytest.fixture
def in_place_stack(repo):
    with EmbeddedStack(repo / "template.yaml", {"InPlace": "true"}) as running:
        yield running
