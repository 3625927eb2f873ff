"""``imgflow run``: every image under some paths through the real workflow, locally."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from imgflow.contract import Outcome
from imgflow.local.runtime import EmbeddedStack
from imgflow.ops.report import ImageReport, report_from_execution
from imgflow.trigger import source_from_event

NOT_MATCHED = "not_matched_by_upload_rule"


@dataclass(frozen=True)
class Upload:
    key: str
    path: Path


def collect(paths: list[Path]) -> list[Upload]:
    """Files to upload, keyed by their path relative to the folder given (or their name)."""
    uploads: dict[str, Upload] = {}
    for root in paths:
        if root.is_file():
            found = [(root.name, root)]
        elif root.is_dir():
            found = [
                (p.relative_to(root).as_posix(), p)
                for p in sorted(root.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(root).parts)
            ]
        else:
            raise FileNotFoundError(f"{root}: no such file or folder")
        for key, path in found:
            if key in uploads:
                raise ValueError(
                    f"two inputs map to the same key {key!r}: {uploads[key].path} and {path}"
                )
            uploads[key] = Upload(key, path)
    return list(uploads.values())


def run(
    paths: list[Path],
    out_dir: Path,
    parameters: dict[str, str] | None = None,
    template: Path | None = None,
) -> list[ImageReport]:
    """Upload every file, wait for the workflow, write results and report.json."""
    uploads = collect(paths)
    with EmbeddedStack(template, parameters) as stack:
        for upload in uploads:
            stack.upload(upload.key, upload.path.read_bytes())
        descriptions = stack.wait()
        reports = _reports(uploads, descriptions)
        _write_outputs(stack, reports, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(
        json.dumps([r.to_dict() for r in reports], indent=2, ensure_ascii=False) + "\n"
    )
    return reports


def _reports(uploads: list[Upload], descriptions: list[dict]) -> list[ImageReport]:
    # The first execution of a key is the user's upload; in place, a later one
    # (started by our own replacement) ends Skipped and is not the image's story.
    first: dict[str, dict] = {}
    for description in sorted(descriptions, key=lambda d: d["startDate"]):
        key = source_from_event(json.loads(description["input"])).key
        first.setdefault(key, description)
    reports = []
    for upload in uploads:
        description = first.get(upload.key)
        if description is None:
            size = upload.path.stat().st_size
            reports.append(
                ImageReport(
                    upload.key, "SUCCEEDED", Outcome.SKIPPED, size, None, None, None, NOT_MATCHED
                )
            )
        else:
            reports.append(report_from_execution(description))
    return reports


def _write_outputs(stack: EmbeddedStack, reports: list[ImageReport], out_dir: Path) -> None:
    failed = set(stack.keys(stack.failed_bucket))
    for report in reports:
        if report.outcome in (Outcome.COMPRESSED, Outcome.KEPT_ORIGINAL):
            _save(out_dir / "compressed", report.key, stack.read(stack.result_bucket, report.key))
        elif report.status == "FAILED" and report.key in failed:
            _save(out_dir / "failed", report.key, stack.read(stack.failed_bucket, report.key))


def _save(folder: Path, key: str, data: bytes) -> None:
    target = (folder / key).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise ValueError(f"key {key!r} would be written outside {folder}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
