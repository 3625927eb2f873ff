"""The build check's layer rule: the CoreLayer holds the core and its requirements, nothing else.

tools/check_build.py runs it on the real ``sam build`` output (make check-build);
here it runs on small layers written for each case, so each way the toolkit
could leak into the layer is shown to fail the check.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_build", ROOT / "tools" / "check_build.py")
assert _spec and _spec.loader
check_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_build)

REQUIREMENTS = "pillow==13.0.0\naws-lambda-powertools[tracer]==3.37.0\n"


def _dist(python: Path, name: str, version: str, files: list[str], requires: str = "") -> None:
    info = python / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if requires:
        with (info / "METADATA").open("a") as meta:
            meta.write(textwrap.dedent(requires).strip() + "\n")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in [*files, f"{info.name}/METADATA"]))
    for f in files:
        (python / f.split("/", 1)[0]).mkdir(exist_ok=True)


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    """A layer as sam build writes it: the core, requirements.txt, and what pip installed."""
    python = tmp_path / "python"
    (python / "imgflow" / "steps").mkdir(parents=True)
    (python / "imgflow" / "__init__.py").write_text("")
    (python / "requirements.txt").write_text(REQUIREMENTS)
    _dist(python, "pillow", "13.0.0", ["PIL/__init__.py", "pillow.libs/libjpeg.so"])
    _dist(
        python,
        "aws_lambda_powertools",
        "3.37.0",
        ["aws_lambda_powertools/__init__.py"],
        """
        Requires-Dist: jmespath<2.0.0,>=1.0.1
        Requires-Dist: aws-xray-sdk<3.0.0,>=2.8.0; extra == 'tracer'
        Requires-Dist: pydantic<3.0.0,>=2.4.0; extra == 'all'
        Requires-Dist: colorama; sys_platform == 'win32'
        """,
    )
    _dist(python, "jmespath", "1.1.0", ["jmespath/__init__.py"])
    _dist(python, "aws-xray-sdk", "2.15.0", ["aws_xray_sdk/__init__.py"])
    return python


def problems(python: Path) -> list[str]:
    return check_build.layer_problems(python, python / "requirements.txt", ROOT / "pyproject.toml")


def test_the_core_and_its_requirements_pass(layer: Path):
    assert problems(layer) == []


def test_the_toolkit_package_fails(layer: Path):
    (layer / "imgflow_toolkit").mkdir()
    assert any(p.startswith("imgflow_toolkit:") for p in problems(layer))


def test_moto_installed_by_pip_fails(layer: Path):
    _dist(layer, "moto", "5.2.5", ["moto/__init__.py"])
    found = problems(layer)
    assert any("moto-5.2.5.dist-info: moto is a toolkit/test dependency" in p for p in found)
    assert any(p.startswith("moto:") for p in found)


def test_pyyaml_without_its_metadata_fails(layer: Path):
    (layer / "yaml").mkdir()
    assert any(p.startswith("yaml:") for p in problems(layer))


def test_a_distribution_no_requirement_pulls_in_fails(layer: Path):
    # pydantic is powertools' extra 'all', which the layer does not ask for.
    _dist(layer, "pydantic", "2.12.0", ["pydantic/__init__.py"])
    assert any("no requirement of the layer" in p and "pydantic" in p for p in problems(layer))


def test_an_editable_install_egg_info_fails(layer: Path):
    (layer / "imgflow.egg-info").mkdir()
    assert any(p.startswith("imgflow.egg-info:") for p in problems(layer))


def test_bytecode_in_the_core_fails(layer: Path):
    (layer / "imgflow" / "__pycache__").mkdir()
    (layer / "imgflow" / "__pycache__" / "__init__.cpython-313.pyc").write_bytes(b"")
    assert any("bytecode" in p for p in problems(layer))


def test_a_stray_top_level_package_fails(layer: Path):
    (layer / "werkzeug").mkdir()
    assert any(p.startswith("werkzeug:") for p in problems(layer))


def test_a_layer_without_the_core_fails(layer: Path):
    (layer / "imgflow" / "__init__.py").unlink()
    (layer / "imgflow" / "steps").rmdir()
    (layer / "imgflow").rmdir()
    assert problems(layer) == [f"{layer}: no imgflow/ package"]
