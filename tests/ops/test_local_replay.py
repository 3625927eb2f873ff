"""``imgflow replay --run DIR``: a local run's failures again, after raising a limit."""

from __future__ import annotations

import json

from imgflow_toolkit.cli import main


def _run(repo, inputs, out, *options: str) -> int:
    template = str(repo / "template.yaml")
    return main(["run", str(inputs), "--out", str(out), "--template", template, *options])


def test_raising_the_pixel_limit_and_replaying_compresses_the_rejected_image(
    repo, tmp_path, capsys
):
    images = tmp_path / "in"
    images.mkdir()
    (images / "harbour.jpg").write_bytes((repo / "samples/photos/harbour.jpg").read_bytes())
    (images / "icon.png").write_bytes((repo / "samples/photos/icon.png").read_bytes())
    out = tmp_path / "out"
    # harbour.jpg is 960x640 = 0.61 MP: above a 0.1 MP limit, below the default.
    assert _run(repo, images, out, "--max-pixels", "100000") == 0
    before = {r["key"]: r for r in json.loads((out / "report.json").read_text())}
    assert before["harbour.jpg"]["error"]["type"] == "ImageTooLargeError"
    assert (out / "failed/harbour.jpg").is_file()
    capsys.readouterr()

    assert main(["replay", "--run", str(out), "--max-pixels", "100000000"]) == 0
    printed = capsys.readouterr().out
    assert "harbour.jpg: rejected (ImageTooLargeError) -> compressed" in printed

    after = {r["key"]: r for r in json.loads((out / "report.json").read_text())}
    assert after["harbour.jpg"]["outcome"] == "compressed"
    assert after["icon.png"] == before["icon.png"], "images that did not fail are left alone"
    failed_name = before["harbour.jpg"]["execution"].rsplit(":", 1)[1]
    assert after["harbour.jpg"]["execution"].endswith(f":{failed_name}-replay-1")
    assert (out / "compressed/harbour.jpg").stat().st_size == after["harbour.jpg"]["bytes_out"]
    assert not (out / "failed/harbour.jpg").exists()
    (log,) = json.loads((out / "replays.json").read_text())
    assert log["replay_of"] == before["harbour.jpg"]["execution"]
    assert log["parameters"] == {"MaxImagePixels": "100000000"}
    assert "harbour.jpg" in (out / "report.html").read_text()


def test_replaying_without_a_new_limit_fails_again_and_says_so(repo, tmp_path, capsys):
    out = tmp_path / "out"
    assert _run(repo, repo / "samples/broken/truncated.jpg", out) == 0
    capsys.readouterr()
    assert main(["replay", "--run", str(out)]) == 0
    assert "truncated.jpg: rejected (InvalidImageError) -> rejected (InvalidImageError)" in (
        capsys.readouterr().out
    )
    (entry,) = json.loads((out / "report.json").read_text())
    assert entry["execution"].endswith("-replay-1") and entry["status"] == "FAILED"
    assert (out / "failed/truncated.jpg").is_file()
    # A second replay gets the next number, and the first replay's history is kept.
    assert main(["replay", "--run", str(out)]) == 0
    (entry,) = json.loads((out / "report.json").read_text())
    assert entry["execution"].endswith("-replay-2")
    assert len(list((out / "executions").glob("*-replay-*.json"))) == 2


def test_a_run_without_failures_has_nothing_to_replay(repo, tmp_path, capsys):
    out = tmp_path / "out"
    assert _run(repo, repo / "samples/photos/icon.png", out) == 0
    capsys.readouterr()
    assert main(["replay", "--run", str(out)]) == 0
    assert "no failed images to replay" in capsys.readouterr().out


def test_replay_of_a_folder_that_is_not_a_run_is_refused(tmp_path, capsys):
    assert main(["replay", "--run", str(tmp_path)]) == 2
    assert "no report.json" in capsys.readouterr().err
