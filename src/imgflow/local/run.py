"""``imgflow run`` and ``imgflow replay --run``: images through the real workflow, locally.

A run's output folder holds everything needed to look at it later without
the embedded AWS: ``report.json`` (the contract), ``report.html``, the results
and quarantined originals, ``run.json`` (inputs and template parameters) and
``executions/`` (each execution's description, definition and history).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgflow.contract import ErrorInfo, Outcome
from imgflow.local.runtime import EmbeddedStack
from imgflow.ops import history
from imgflow.ops.html_report import write_html_report
from imgflow.ops.replay import replay_name
from imgflow.ops.report import ImageReport, report_from_execution
from imgflow.trigger import source_from_event

NOT_MATCHED = "not_matched_by_upload_rule"
MANIFEST = "run.json"
_TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}

# progress(finished executions, executions started, images)
Progress = Callable[[int, int, int], None]


@dataclass(frozen=True)
class Upload:
    key: str
    path: Path


@dataclass(frozen=True)
class Replayed:
    """One failure of an earlier run, run again."""

    key: str
    before: dict[str, Any]  # its report.json entry before the replay
    after: ImageReport
    failed_execution: str | None


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
    progress: Progress | None = None,
) -> list[ImageReport]:
    """Upload every file, wait for the workflow, write results, report.json and report.html."""
    uploads = collect(paths)
    out_dir.mkdir(parents=True, exist_ok=True)
    with EmbeddedStack(template, parameters) as stack:
        for upload in uploads:
            stack.upload(upload.key, upload.path.read_bytes())
        descriptions = wait_for_executions(stack, len(uploads), progress)
        reports = _reports(uploads, descriptions)
        _write_outputs(stack, reports, out_dir)
        _save_executions(stack, descriptions, out_dir)
    manifest = {
        "template": str(stack.template_path.resolve()),
        "parameters": dict(parameters or {}),
        "inputs": {u.key: str(u.path.resolve()) for u in uploads},
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    _write_reports(out_dir, reports)
    return reports


def replay_failures(
    out_dir: Path,
    parameters: dict[str, str] | None = None,
    keys: list[str] | None = None,
    error: str | None = None,
    progress: Progress | None = None,
) -> list[Replayed]:
    """Run the failures of an earlier ``imgflow run`` again, with changed template parameters.

    As on AWS, each failed execution's original input starts a new execution
    named ``<failed name>-replay-<n>``; the object it names is seeded from the
    quarantined copy (``DIR/failed``) or the run's input file. report.json,
    report.html and the results are updated in place.
    """
    manifest = json.loads((out_dir / MANIFEST).read_text())
    entries = json.loads((out_dir / "report.json").read_text())
    saved = history.load_all(out_dir)
    chosen = [
        e
        for e in entries
        if e["status"] == "FAILED"
        and (not keys or e["key"] in keys)
        and (error is None or (e.get("error") or {}).get("type") == error)
    ]
    if not chosen:
        return []
    merged = {**manifest["parameters"], **(parameters or {})}
    replays: dict[str, str] = {}
    with EmbeddedStack(Path(manifest["template"]), merged) as stack:
        # Seeding must not start executions: the replay starts them, with the original input.
        stack.s3.put_bucket_notification_configuration(
            Bucket=stack.source_bucket, NotificationConfiguration={}
        )
        taken = {e.name for e in saved.values()}
        for entry in chosen:
            original = saved.get(entry.get("execution") or "")
            if original is None:
                raise LookupError(f"{entry['key']}: its execution was not saved under {out_dir}")
            put = stack.upload(entry["key"], _original_bytes(out_dir, manifest, entry["key"]))
            event = json.loads(original.description["input"])
            _point_at_version(event, put.get("VersionId"))
            name = next(
                candidate
                for candidate in (replay_name(original.name, n) for n in range(1, 1000))
                if candidate not in taken
            )
            started = stack.sfn.start_execution(
                stateMachineArn=stack.state_machine_arn, name=name, input=json.dumps(event)
            )
            replays[entry["key"]] = started["executionArn"]
        descriptions = wait_for_executions(stack, len(chosen), progress)
        by_arn = {d["executionArn"]: d for d in descriptions}
        after = {key: report_from_execution(by_arn[arn]) for key, arn in replays.items()}
        _write_outputs(stack, list(after.values()), out_dir)
        _save_executions(stack, descriptions, out_dir)
    results = []
    for entry in chosen:
        report = after[entry["key"]]
        results.append(Replayed(entry["key"], entry, report, entry.get("execution")))
        if report.status == "SUCCEEDED":
            _remove(out_dir / "failed", entry["key"])
    updated = {r.key: r.after for r in results}
    reports = [updated.get(e["key"]) or _report_from_dict(e) for e in entries]
    manifest["parameters"] = merged
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    _write_reports(out_dir, reports)
    log = out_dir / "replays.json"
    past = json.loads(log.read_text()) if log.is_file() else []
    past += [
        {
            "key": r.key,
            "replay_of": r.failed_execution,
            "execution": r.after.execution,
            "parameters": merged,
            "status": r.after.status,
            "outcome": r.after.outcome,
        }
        for r in results
    ]
    log.write_text(json.dumps(past, indent=2, ensure_ascii=False) + "\n")
    return results


# What stuck executions end with: stopped, so the run ends and reports them.
STUCK_ERROR = "ExecutionStuck"


def stall_limit(definition: str) -> float:
    """The longest one Task state may legitimately take, retries and back-off included.

    Derived from the ASL's TimeoutSeconds and Retry lists (AWS's defaults
    where they are absent): if no execution ends for that long, the ones
    still running are stuck, not slow.
    """
    longest = 0.0
    for state in _states(json.loads(definition)):
        if state.get("Type") != "Task":
            continue
        timeout = float(state.get("TimeoutSeconds", 60))
        attempts, backoff = 0, 0.0
        for retrier in state.get("Retry", []):
            tries = int(retrier.get("MaxAttempts", 3))
            interval = float(retrier.get("IntervalSeconds", 1))
            rate = float(retrier.get("BackoffRate", 2.0))
            cap = float(retrier.get("MaxDelaySeconds", math.inf))
            attempts += tries
            backoff += sum(min(cap, interval * rate**k) for k in range(tries))
        longest = max(longest, timeout * (1 + attempts) + backoff)
    return longest


def _states(definition: dict[str, Any]):
    """Every state of a definition, those of Map and Parallel branches included."""
    for state in definition.get("States", {}).values():
        yield state
        for branch in [*state.get("Branches", []), state.get("ItemProcessor") or {}]:
            yield from _states(branch)


def wait_for_executions(
    stack: EmbeddedStack,
    images: int,
    progress: Progress | None = None,
    *,
    stall_seconds: float | None = None,
) -> list[dict[str, Any]]:
    """Poll until every execution has ended, telling ``progress`` as they finish.

    If none ends for ``stall_seconds`` (default: ``stall_limit`` of the
    state machine), those still running are stopped with ``STUCK_ERROR``
    and reported, by name, like any failure: the run always ends.
    """
    limit = (
        stall_limit(stack.spec.state_machine.definition) if stall_seconds is None else stall_seconds
    )
    last, changed = None, time.monotonic()
    while True:
        executions = stack.executions()
        finished = sum(1 for e in executions if e["status"] in _TERMINAL)
        if (finished, len(executions)) != last:
            last, changed = (finished, len(executions)), time.monotonic()
            if progress is not None:
                progress(finished, len(executions), images)
        if finished == len(executions):
            break
        if time.monotonic() - changed > limit:
            stuck = [e for e in executions if e["status"] not in _TERMINAL]
            stopped = {e["executionArn"]: _stop(stack, e, limit) for e in stuck}
            return [
                stopped.get(e["executionArn"]) or stack.describe(e["executionArn"])
                for e in executions
            ]
        time.sleep(0.02)
    return [stack.describe(e["executionArn"]) for e in executions]


def _stop(stack: EmbeddedStack, execution: dict[str, Any], limit: float) -> dict[str, Any]:
    """StopExecution with the reason, and the description AWS would then give.

    moto's interpreter marks an execution ABORTED only once its running
    task returns, and drops the error and cause: a stuck task never returns.
    """
    cause = (
        f"execution {execution['name']} made no progress for {limit:.0f} s, longer than "
        "any task of the state machine may take with its retries; stopped"
    )
    arn = execution["executionArn"]
    stack.sfn.stop_execution(executionArn=arn, error=STUCK_ERROR, cause=cause)
    return {**stack.describe(arn), "status": "ABORTED", "error": STUCK_ERROR, "cause": cause}


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


def _report_from_dict(entry: dict[str, Any]) -> ImageReport:
    error = entry.get("error")
    fields = {**entry, "error": ErrorInfo(**error) if error else None}
    known = ImageReport.__dataclass_fields__
    return ImageReport(**{k: v for k, v in fields.items() if k in known})


def _write_reports(out_dir: Path, reports: list[ImageReport]) -> None:
    (out_dir / "report.json").write_text(
        json.dumps([r.to_dict() for r in reports], indent=2, ensure_ascii=False) + "\n"
    )
    write_html_report(out_dir, reports)


def _save_executions(stack: EmbeddedStack, descriptions: list[dict], out_dir: Path) -> None:
    definition = json.loads(stack.spec.state_machine.definition)
    for description in descriptions:
        events = stack.history(description["executionArn"])
        history.save(out_dir, history.SavedExecution(description, definition, events))


def _original_bytes(out_dir: Path, manifest: dict[str, Any], key: str) -> bytes:
    quarantined = out_dir / "failed" / key
    if quarantined.is_file():
        return quarantined.read_bytes()
    source = manifest["inputs"].get(key)
    if source and Path(source).is_file():
        return Path(source).read_bytes()
    raise FileNotFoundError(f"{key}: neither {quarantined} nor its input file {source} exists")


def _point_at_version(event: dict[str, Any], version_id: str | None) -> None:
    # In place the bucket is versioned: the seeded copy is a new version.
    obj = (event.get("detail") or {}).get("object")
    if version_id and isinstance(obj, dict) and "version-id" in obj:
        obj["version-id"] = version_id


def _write_outputs(stack: EmbeddedStack, reports: list[ImageReport], out_dir: Path) -> None:
    failed = set(stack.keys(stack.failed_bucket))
    for report in reports:
        if report.outcome in (Outcome.COMPRESSED, Outcome.KEPT_ORIGINAL):
            _save(out_dir / "compressed", report.key, stack.read(stack.result_bucket, report.key))
        elif report.status == "FAILED" and report.key in failed:
            _save(out_dir / "failed", report.key, stack.read(stack.failed_bucket, report.key))


def _remove(folder: Path, key: str) -> None:
    """Delete a key's file and the folders it leaves empty."""
    target = folder / key
    target.unlink(missing_ok=True)
    for parent in target.parents:
        if parent == folder or not parent.is_relative_to(folder) or any(parent.iterdir()):
            break
        parent.rmdir()


def _save(folder: Path, key: str, data: bytes) -> None:
    target = (folder / key).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise ValueError(f"key {key!r} would be written outside {folder}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
