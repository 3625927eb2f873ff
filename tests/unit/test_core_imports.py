"""The core (src/imgflow, what the Lambda layer ships) never imports the toolkit or its tools.

The dependency points one way: imgflow_toolkit imports imgflow, never the
reverse. The layer is built from src/ with src/requirements.txt, so a core
module may import only the standard library, imgflow itself, boto3/botocore
(the Lambda runtime provides them) and what src/requirements.txt installs.
Read with ast, nothing is imported: a module that needs moto fails here, not
on Lambda with ImportError.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "src" / "imgflow"
TOOLKIT = "imgflow_toolkit"
# The Lambda python3.13 runtime's own (src/requirements.txt leaves them out).
RUNTIME_PROVIDED = {"boto3", "botocore"}


# The build check's own reading of the layer's requirements and pyproject's
# optional dependencies: one definition of "the core's" and "the toolkit's".
_spec = importlib.util.spec_from_file_location("check_build", ROOT / "tools" / "check_build.py")
assert _spec and _spec.loader
check_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_build)
LAYER_REQUIREMENTS = check_build.requirement_lines(ROOT / "src" / "requirements.txt")


def _modules_of(dists: set[str]) -> set[str]:
    """The top-level modules the installed distributions ``dists`` provide."""
    return {
        module
        for module, owners in packages_distributions().items()
        if any(check_build.dist_name(owner) in dists for owner in owners)
    }


def layer_requirements() -> set[str]:
    return {check_build.dist_name(Requirement(r).name) for r in LAYER_REQUIREMENTS}


def toolkit_requirements() -> set[str]:
    """Every optional dependency (local, bench, dev): what the toolkit and its tests use."""
    return check_build.toolkit_only_dists(ROOT / "pyproject.toml", LAYER_REQUIREMENTS)


def imported_modules(source: str, filename: str = "<core>") -> set[str]:
    """Every absolute module name ``source`` imports, at any depth (a function's lazy
    import counts), with ``importlib.import_module("...")`` calls on a literal."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def core_imports() -> dict[str, set[str]]:
    """Top-level module -> the core files that import it."""
    found: dict[str, set[str]] = {}
    for path in sorted(CORE.rglob("*.py")):
        for name in imported_modules(path.read_text(), str(path)):
            found.setdefault(name.partition(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def _offenders(imports: dict[str, set[str]], forbidden: set[str]) -> list[str]:
    return sorted(
        f"{file}: {name}" for name in forbidden & imports.keys() for file in imports[name]
    )


def test_the_walker_sees_lazy_and_dynamic_imports():
    source = (
        "import os\n"
        "def f():\n"
        "    from imgflow_toolkit.local import runtime\n"
        "    import yaml.constructor\n"
        "    return importlib.import_module('moto.s3')\n"
    )
    assert imported_modules(source) == {
        "os",
        "imgflow_toolkit.local",
        "yaml.constructor",
        "moto.s3",
    }


def test_the_toolkit_dependencies_are_known():
    # If the metadata could not be read, the next tests would pass on an empty set.
    modules = _modules_of(toolkit_requirements())
    assert {"moto", "yaml", "pytest"} <= modules
    assert {"PIL", "numpy", "aws_lambda_powertools"} <= _modules_of(layer_requirements())


def test_core_never_imports_the_toolkit_or_its_dependencies():
    imports = core_imports()
    assert "imgflow" in imports, f"no import found under {CORE}: is the walker broken?"
    forbidden = {TOOLKIT} | _modules_of(toolkit_requirements())
    offenders = _offenders(imports, forbidden)
    assert not offenders, (
        "the core (src/imgflow, shipped in the Lambda layer) imports the toolkit or a "
        "toolkit-only dependency; move the code that needs it to toolkit/imgflow_toolkit, "
        "or move what deployed code needs into the core: " + ", ".join(offenders)
    )


def test_core_imports_only_what_the_layer_ships():
    allowed = (
        set(sys.stdlib_module_names)
        | {"imgflow", "__future__"}
        | RUNTIME_PROVIDED
        | _modules_of(layer_requirements())
    )
    imports = core_imports()
    offenders = _offenders(imports, imports.keys() - allowed)
    assert not offenders, (
        "the core imports what the layer does not install (add it to src/requirements.txt "
        "and pyproject's dependencies if deployed code needs it): " + ", ".join(offenders)
    )


@pytest.mark.parametrize("module", ["moto", "yaml", TOOLKIT])
def test_a_toolkit_import_in_the_core_would_be_caught(module):
    imports = {module: {"src/imgflow/example.py"}, "imgflow": {"src/imgflow/example.py"}}
    forbidden = {TOOLKIT} | _modules_of(toolkit_requirements())
    assert _offenders(imports, forbidden) == [f"src/imgflow/example.py: {module}"]
