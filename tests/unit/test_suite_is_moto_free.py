"""tests/unit is the base of the pyramid: the core on its own, without moto or AWS clients.

What needs moto or the embedded runtime belongs in tests/integration or
tests/workflow; the unit tests of the steps run on tests/memory_store.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

UNIT = Path(__file__).resolve().parent
HELPERS = [UNIT.parent / "memory_store.py"]
FORBIDDEN = (
    "moto",
    "boto3",
    "botocore",
    "imgflow_toolkit.local.moto_patches",
    "imgflow_toolkit.local.runtime",
)


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_no_unit_test_imports_moto_or_an_aws_client():
    offenders = {
        f"{path.relative_to(UNIT.parent)}: {name}"
        for path in [*sorted(UNIT.rglob("*.py")), *HELPERS]
        for name in imported_modules(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not offenders, "move these to tests/integration: " + ", ".join(sorted(offenders))
