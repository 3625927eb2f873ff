"""``imgflow run``: the command contract of DESIGN section 5."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from imgflow_toolkit.cli import main

REPO = Path(__file__).resolve().parents[2]
REPORT_KEYS = {"key", "status", "outcome", "bytes_in", "bytes_out", "error", "execution"}


def test_run_accounts_for_every_image_and_writes_the_contract(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        ["run", str(REPO / "samples"), "--out", str(out), "--template", str(REPO / "template.yaml")]
    )
    assert code == 0, "exit 0 whenever every image is accounted for, failures included"
    report = json.loads((out / "report.json").read_text())
    by_key = {r["key"]: r for r in report}
    inputs = sorted(
        p.relative_to(REPO / "samples").as_posix()
        for p in (REPO / "samples").rglob("*")
        if p.is_file()
    )
    assert sorted(by_key) == inputs
    for entry in report:
        assert set(entry) >= REPORT_KEYS
        assert entry["status"] in ("SUCCEEDED", "FAILED")
    broken = by_key["broken/truncated.jpg"]
    assert (broken["status"], broken["outcome"]) == ("FAILED", "rejected")
    assert broken["error"]["type"] == "InvalidImageError"
    assert (out / "failed/broken/truncated.jpg").read_bytes() == (
        REPO / "samples/broken/truncated.jpg"
    ).read_bytes()
    photo = by_key["photos/holiday snaps/straße 1.jpg"]
    assert photo["outcome"] == "compressed"
    assert (out / "compressed/photos/holiday snaps/straße 1.jpg").stat().st_size == photo[
        "bytes_out"
    ]
    table = capsys.readouterr().out
    assert "photos/harbour.jpg" in table and "report.json" in table
    # What each function's workers printed is kept, one log per function.
    logs = sorted(p.stem for p in (out / "logs").iterdir())
    assert "CompressImageFunction" in logs and "ValidateImageFunction" in logs, logs
    # What the run would cost on AWS, from what it measured (docs/cost.md).
    estimate = json.loads((out / "cost.json").read_text())
    assert estimate["images"] == estimate["executions"] == len(inputs)
    assert estimate["functions"]["CompressImageFunction"]["invocations"] == 4
    assert estimate["lambda_gb_seconds_x86_64"] > 0
    # 4 x the 8 states of the happy path, 4 states for the truncated JPEG
    assert estimate["transitions"] == 4 * 8 + 4
    assert "per 1,000 images" in table and "EXPRESS   arm64" in table


def test_run_prints_the_progress_and_the_table_and_nothing_else(tmp_path):
    # A fresh process, as a user runs it: the handlers' logs must stay quiet.
    imgflow = Path(sys.executable).parent / "imgflow"
    samples = tmp_path / "samples"
    samples.mkdir()
    shutil.copy(REPO / "samples/photos/icon.png", samples / "icon.png")
    shutil.copy(REPO / "samples/broken/truncated.jpg", samples / "truncated.jpg")
    command = [imgflow, "run", samples, "--out", tmp_path / "out"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["key", "outcome", "bytes", "in", "bytes", "out", "saved"], lines
    assert not [line for line in lines if line.startswith("{")], "no log lines on stdout"
    assert [line for line in done.stderr.splitlines() if line] == [
        line for line in done.stderr.splitlines() if "images done" in line
    ], done.stderr


def test_run_names_a_missing_input(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_run_rejects_a_cost_factor_that_is_not_positive(tmp_path, capsys):
    with pytest.raises(SystemExit) as ended:
        main(["run", str(REPO / "samples"), "--out", str(tmp_path), "--duration-factor", "0"])
    assert ended.value.code == 2
    assert "must be above 0" in capsys.readouterr().err
