"""One local run of the samples, shared by the tests that look at a run's output folder."""

from __future__ import annotations

import pytest

from imgflow_toolkit.cli import main


@pytest.fixture(scope="session")
def sample_run(repo, tmp_path_factory):
    """``imgflow run samples --out DIR`` once; the tests only read DIR."""
    out = tmp_path_factory.mktemp("sample-run")
    template = str(repo / "template.yaml")
    assert main(["run", str(repo / "samples"), "--out", str(out), "--template", template]) == 0
    return out
