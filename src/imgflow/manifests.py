"""The lists a backfill can read instead of a listing: an S3 Inventory or a CSV list.

An S3 Inventory is a ``manifest.json`` naming CSV data files (gzip) and their
columns; a CSV list is S3 Batch Operations' format (``Bucket,Key`` rows). The
backfill state machine reads them with a Distributed Map's ItemReader;
``imgflow backfill --dry-run`` and the embedded runtime read them here, with
the same rules. Pure: bytes and text in, rows out (no boto3, no moto).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

INVENTORY, CSV_LIST = "S3 Inventory", "CSV list"
# The fields of a CSV list's rows (the ASL's CSVHeaders): S3 Batch Operations' format.
CSV_LIST_FIELDS = ["Bucket", "Key"]


def manifest_kind(key: str) -> str:
    """Which reader the backfill's "Which manifest?" Choice picks for this key."""
    if key.endswith(".json"):
        return INVENTORY
    if key.endswith(".csv"):
        return CSV_LIST
    raise ValueError(
        f"{key!r} is neither an S3 Inventory manifest (manifest.json) nor a CSV list (.csv)"
    )


@dataclass(frozen=True)
class InventoryManifest:
    """An S3 Inventory's manifest.json: where its CSV data files are, and their columns."""

    bucket: str
    files: list[str]
    fields: list[str]

    @classmethod
    def parse(cls, text: str | bytes) -> InventoryManifest:
        """Raises ValueError saying why this is not a CSV inventory's manifest."""
        try:
            manifest = json.loads(text)
            if not isinstance(manifest, dict):
                raise TypeError("not a JSON object")
            fmt = manifest.get("fileFormat")
            if fmt != "CSV":
                raise ValueError(f"fileFormat is {fmt!r}; only CSV inventories can be read")
            fields = [name.strip() for name in manifest["fileSchema"].split(",")]
            bucket = str(manifest["destinationBucket"]).rsplit(":", 1)[-1]
            files = [str(f["key"]) for f in manifest["files"]]
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"not an S3 Inventory manifest: {exc}") from exc
        return cls(bucket, files, fields)

    def check_current_versions_only(self) -> None:
        """An inventory of every version lists old versions and delete markers too."""
        if "IsLatest" in self.fields:
            raise ValueError(
                "this inventory lists every object version (IncludedObjectVersions=All): "
                "the backfill would run old versions and delete markers; use an inventory "
                "of current versions"
            )


def csv_rows(data: bytes, fields: list[str], where: str) -> Iterator[dict[str, str]]:
    """The rows of an inventory data file (gzip or plain) or a CSV list, named by ``fields``."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    for row in csv.reader(io.StringIO(data.decode("utf-8"))):
        if len(row) != len(fields):
            raise ValueError(f"{where}: a row has {len(row)} fields, expected {fields}")
        yield dict(zip(fields, row, strict=True))
