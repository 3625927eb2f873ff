"""The S3 objects a sample event names, so that ``imgflow invoke --seed`` can put them first."""

from __future__ import annotations

from typing import Any

from imgflow.errors import InvalidEventError
from imgflow.trigger import source_from_event

# Where the contract carries the object a step reads (not the ones it writes).
_SOURCE_FIELDS = ("source",)


def objects_named(event: Any) -> list[tuple[str, str]]:
    """(bucket, key) of every object the event reads: its trigger and each ``source`` ref."""
    found: list[tuple[str, str]] = []

    def add(bucket: Any, key: Any) -> None:
        if isinstance(bucket, str) and isinstance(key, str) and (bucket, key) not in found:
            found.append((bucket, key))

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            try:
                ref = source_from_event(node)
                add(ref.bucket, ref.key)
            except (InvalidEventError, KeyError, TypeError, ValueError):
                pass
            for name, value in node.items():
                if name in _SOURCE_FIELDS and isinstance(value, dict):
                    add(value.get("bucket"), value.get("key"))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(event)
    return found
