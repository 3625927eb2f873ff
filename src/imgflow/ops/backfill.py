"""What a backfill would process: the backfill state machine's own key filter, in Python.

``imgflow backfill --dry-run`` lists the source bucket and counts what the
Distributed Map would run. The filter is not written a second time here: it
is read from the backfill definition (the Choice state's ``StringMatches``
patterns, which tests/template/test_backfill_template.py keeps equal to the
upload rule's), and matched with ASL's ``StringMatches`` rules.

No AWS call is made: this module imports neither boto3 nor moto.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAP_STATE = "Process every object"
FILTER_STATE = "Would the upload rule match it?"


def key_patterns(definition: Mapping[str, Any]) -> list[str]:
    """The ``StringMatches`` patterns the backfill's item processor tests each key against."""
    processor = definition["States"][MAP_STATE]["ItemProcessor"]
    (rule,) = processor["States"][FILTER_STATE]["Choices"]
    return [comparison["StringMatches"] for comparison in rule["Or"]]


def listed_prefix(definition: Mapping[str, Any]) -> str:
    """The prefix the backfill lists when its input names none (KeyPrefix, as S3 lists it)."""
    return str(definition["States"]["Settings"]["Parameters"]["defaults"]["prefix"])


def _regex(pattern: str) -> re.Pattern[str]:
    """ASL StringMatches: ``*`` is any run of characters, ``\\*`` and ``\\\\`` are literal."""
    parts, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


class KeyFilter:
    """Does the backfill run the image workflow for this (raw) key?"""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = list(patterns)
        self._compiled = [_regex(p) for p in self.patterns]

    def __call__(self, key: str) -> bool:
        return any(r.fullmatch(key) for r in self._compiled)


@dataclass
class Listing:
    """What a listing held, and what of it the backfill would process."""

    objects: int = 0
    bytes: int = 0
    images: int = 0
    image_bytes: int = 0
    pages: int = 0

    def add(self, key: str, size: int, matches: KeyFilter) -> None:
        self.objects += 1
        self.bytes += size
        if matches(key):
            self.images += 1
            self.image_bytes += size
