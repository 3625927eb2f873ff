"""``imgflow score ORIGINAL COMPRESSED``: prints the score, refuses what it cannot compare."""

from __future__ import annotations

from pathlib import Path

import pytest
from imaging_samples import encode, exif_with, photo

from imgflow_toolkit.cli import main

PAIRS_DIR = Path(__file__).parents[2] / "data" / "ssimulacra2"


def test_score_prints_the_reference_score(capsys) -> None:
    code = main(
        ["score", str(PAIRS_DIR / "plasma_Kite.ref.png"), str(PAIRS_DIR / "plasma_Kite.jpeg80.png")]
    )
    assert code == 0
    assert float(capsys.readouterr().out) == pytest.approx(80.493183, abs=0.1)


def test_score_applies_orientation_to_both(tmp_path: Path, capsys) -> None:
    image = photo(size=(96, 64))
    (tmp_path / "a.png").write_bytes(encode(image, "PNG"))
    rotated = encode(image.rotate(90, expand=True), "JPEG", quality=95, exif=exif_with(6))
    (tmp_path / "b.jpg").write_bytes(rotated)
    assert main(["score", str(tmp_path / "a.png"), str(tmp_path / "b.jpg")]) == 0
    assert float(capsys.readouterr().out) > 80


def test_score_refuses_size_mismatch(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.png").write_bytes(encode(photo(size=(64, 64)), "PNG"))
    (tmp_path / "b.png").write_bytes(encode(photo(size=(64, 48)), "PNG"))
    assert main(["score", str(tmp_path / "a.png"), str(tmp_path / "b.png")]) != 0
    assert "size mismatch: original is 64x64, compressed is 64x48" in capsys.readouterr().err


def test_score_refuses_unreadable_input(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.png").write_bytes(encode(photo(size=(64, 64)), "PNG"))
    (tmp_path / "notes.jpg").write_text("not an image")
    assert main(["score", str(tmp_path / "a.png"), str(tmp_path / "notes.jpg")]) != 0
    assert "compressed" in capsys.readouterr().err
    assert main(["score", str(tmp_path / "missing.png"), str(tmp_path / "a.png")]) != 0
    assert "no such file" in capsys.readouterr().err


def test_score_refuses_a_decompression_bomb_with_one_line(decompression_bomb: Path, capsys) -> None:
    bomb = decompression_bomb
    assert main(["score", str(bomb), str(bomb)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("imgflow score: original") and "too large to score safely" in err
    assert "Traceback" not in err
