"""The environment template.yaml gives each function, with its parameters' defaults.

The functions' settings models hold no defaults (imgflow.settings): tests build
them from this, read by the toolkit's template reader, so a default is written
once, in the template.
"""

from __future__ import annotations

import functools
from pathlib import Path

from imgflow.settings import Limits
from imgflow_toolkit.local.template import default_limits, read_stack

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"


@functools.cache
def _environments() -> dict[str, dict[str, str]]:
    stack = read_stack(TEMPLATE)
    return {logical: dict(f.environment) for logical, f in stack.functions.items()}


def template_limits() -> Limits:
    """The image limits of a deployment with the template's defaults."""
    return default_limits(TEMPLATE)


def function_environment(function: str, **overrides: str) -> dict[str, str]:
    """The environment of the template's function ``function`` (a logical id), with overrides."""
    return _environments()[function] | overrides
