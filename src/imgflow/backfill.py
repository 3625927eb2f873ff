"""What a backfill would process: the backfill state machine's own key filter, in Python.

``imgflow backfill --dry-run`` lists the source bucket (or reads the S3
Inventory or CSV list given with ``--manifest``) and counts what the
Distributed Map would run. The filter is not written a second time here: it
is read from the backfill definition (the Choice state's ``StringMatches``
patterns, which tests/template/test_backfill_template.py keeps equal to the
upload rule's), and matched with ASL's ``StringMatches`` rules. Reading an S3
Inventory or a CSV list is imgflow.manifests'.

No AWS call is made: this module imports neither boto3 nor moto.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

MAP_STATE = "Process every object"  # the listing
INVENTORY_STATE = "Process every object of the inventory"
CSV_LIST_STATE = "Process every object of the CSV list"
FILTER_STATE = "Would the upload rule match it?"


def _comparisons(rule: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield rule
    for operand in [*rule.get("And", []), *rule.get("Or", [])]:
        yield from _comparisons(operand)


def key_patterns(definition: Mapping[str, Any], state: str = MAP_STATE) -> list[str]:
    """The ``StringMatches`` patterns a map state's item processor tests each key against
    (raw keys for the listing; URL-encoded ones, as the upload rule, for manifests)."""
    processor = definition["States"][state]["ItemProcessor"]
    # The filter is where each item starts (state names are unique per state machine,
    # so each map's is named for its map).
    (rule,) = processor["States"][processor["StartAt"]]["Choices"]
    return [c["StringMatches"] for c in _comparisons(rule) if "StringMatches" in c]


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
    """What a listing (or manifest) held, and what of it the backfill would process.

    A manifest may give no size (an inventory without the Size field, a CSV
    list): such objects are counted, their bytes are not (``unsized_images``).
    """

    objects: int = 0
    bytes: int = 0
    images: int = 0
    image_bytes: int = 0
    pages: int = 0  # ListObjectsV2 pages, or a manifest's data files
    unsized_images: int = 0
    kind: str = field(default="listing")

    def add(self, size: int | None, matched: bool) -> None:
        self.objects += 1
        self.bytes += size or 0
        if matched:
            self.images += 1
            self.image_bytes += size or 0
            self.unsized_images += size is None

    def add_item(self, item: Mapping[str, str], source_bucket: str, matches: KeyFilter) -> None:
        """A manifest row, as the manifest item processor's Choice tests it: the source
        bucket, and the upload rule's patterns on the key as written (URL-encoded)."""
        size = item.get("Size")
        matched = item.get("Bucket") == source_bucket and matches(item["Key"])
        self.add(int(size) if size else None, matched)
