"""``imgflow run`` and ``imgflow replay --run``: images through the real workflow, locally.

A run's output folder holds everything needed to look at it later without
the embedded AWS: ``report.json`` (the contract), ``report.html``, the results
and quarantined originals, ``run.json`` (inputs and template parameters) and
``executions/`` (each execution's description, definition and history),
``logs/`` (what each function's workers printed: warnings, tracebacks) and
``cost.json`` (what the run would cost on AWS, imgflow_toolkit.report.cost).

A run's memory does not grow with the number of images: files are uploaded
as the workflow has room for them (a window of twice the workers), and as
soon as every execution of a key has ended, its result or quarantined
original is written out, its history saved, and its objects and executions
dropped from the embedded AWS.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgflow.aws.stepfunctions import TERMINAL_STATUSES
from imgflow.contract import ErrorInfo, Outcome
from imgflow.trigger import source_from_event
from imgflow_toolkit.executions import history
from imgflow_toolkit.executions.replay import replay_name
from imgflow_toolkit.local import moto_patches
from imgflow_toolkit.local.runtime import EmbeddedStack
from imgflow_toolkit.report import cost
from imgflow_toolkit.report.backfill_cost import map_item_transitions
from imgflow_toolkit.report.images import ImageReport, report_from_execution, write_report_json
from imgflow_toolkit.report.page import write_html_report

NOT_MATCHED = "not_matched_by_upload_rule"
# A local backfill seeds this many files, then backfills them, then the next page:
# what the embedded AWS holds at once, objects and the map's items (a few KB each).
# On 500 tiny images a page of 500 peaked 1.7 MB above ``imgflow run``, pages of
# 100 0.2 MB above it (237.5 against 237.3 MB).
BACKFILL_PAGE = 100
MANIFEST = "run.json"
LOGS = "logs"  # one file per function: what its workers printed, as CloudWatch would keep

# progress(done, total): images done of all (run), or executions ended of started (replay)
Progress = Callable[[int, int], None]


def default_workers() -> int:
    """The local concurrency: one worker per function per core."""
    return os.cpu_count() or 1


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
            # Interned: the key an execution's input names is then this same string,
            # not one more copy per image for the run to keep (``_Stream._poll``).
            uploads[key] = Upload(sys.intern(key), path)
    return list(uploads.values())


def run(
    paths: list[Path],
    out_dir: Path,
    parameters: dict[str, str] | None = None,
    template: Path | None = None,
    progress: Progress | None = None,
    *,
    workers: int | None = None,
    window: int | None = None,
    cost_assumptions: cost.Assumptions | None = None,
    backfill: bool = False,
) -> list[ImageReport]:
    """Upload every file, run the workflow, write results, report.json and report.html.

    ``workers`` is the local concurrency (worker processes per function,
    default: the number of cores); at most ``window`` images (default: twice
    that) are in the workflow at once. ``cost_assumptions`` are the factors of
    the AWS cost estimate written to cost.json (default: imgflow_toolkit.report.cost's).
    ``backfill``: the files are in the source bucket before the stack (no
    upload events), and the backfill state machine processes them, ``window``
    at once (its MaxConcurrency).
    """
    uploads = collect(paths)
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = workers or default_workers()
    logs = out_dir / LOGS
    with EmbeddedStack(template, parameters, workers=workers, log_dir=logs) as stack:
        stream = _Stream(stack, out_dir, progress, len(uploads))
        if backfill:
            stream.backfill(uploads, window or 2 * workers)
        else:
            stream.run(uploads, window or 2 * workers)
        usage = stack.usage
    reports = [stream.reports.get(u.key) or _not_matched(u) for u in uploads]
    manifest = {
        "template": str(stack.template_path.resolve()),
        "parameters": dict(parameters or {}),
        "resolved_parameters": dict(stack.spec.parameters),
        "inputs": {u.key: str(u.path.resolve()) for u in uploads},
        "backfill": backfill,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    estimate = cost.estimate_run(
        usage,
        stack.template_path,
        parameters,
        stream.counts,
        len(uploads),
        cost_assumptions or cost.Assumptions(),
        cost.Conditions(workers, os.cpu_count() or 1, os.getloadavg()[0]),
    )
    cost.save(out_dir, estimate)  # before the report, which shows it
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
    with EmbeddedStack(
        Path(manifest["template"]), merged, workers=default_workers(), log_dir=out_dir / LOGS
    ) as stack:
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
        descriptions = wait_for_executions(stack, progress)
        by_arn = {d["executionArn"]: d for d in descriptions}
        after = {key: report_from_execution(by_arn[arn]) for key, arn in replays.items()}
        for report in after.values():
            _write_output(stack, report, out_dir)
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
        finished = sum(1 for e in executions if e["status"] in TERMINAL_STATUSES)
        if (finished, len(executions)) != last:
            last, changed = (finished, len(executions)), time.monotonic()
            if progress is not None:
                progress(finished, len(executions))
        if finished == len(executions):
            break
        if time.monotonic() - changed > limit:
            stuck = [e for e in executions if e["status"] not in TERMINAL_STATUSES]
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


class _Stream:
    """Uploads fed into the stack as it has room; each key written out and dropped when done."""

    def __init__(
        self, stack: EmbeddedStack, out_dir: Path, progress: Progress | None, images: int
    ) -> None:
        self.stack = stack
        self.out_dir = out_dir
        self.progress = progress
        self.images = images
        self.reports: dict[str, ImageReport] = {}
        self.limit = stall_limit(stack.spec.state_machine.definition)
        self._definition = json.loads(stack.spec.state_machine.definition)
        self._open: dict[str, list[str]] = {}  # key -> its executions' ARNs
        self._key_of: dict[str, str] = {}  # execution ARN -> key
        self._ended: dict[str, dict[str, Any]] = {}  # ARN -> description, for open keys
        self._unmatched = 0
        self.backfills = 0  # backfill executions (one per page of files)
        self.counts = cost.WorkflowCounts()  # executions and billed transitions so far

    def run(self, uploads: Iterable[Upload], window: int) -> None:
        pending = deque(uploads)
        changed = time.monotonic()
        while pending or self._open:
            while pending and len(self._open) < window:
                upload = pending.popleft()
                self._open[upload.key] = []
                self.stack.upload(upload.key, upload.path.read_bytes())
            if self._poll():
                changed = time.monotonic()
            changed = self._settle(changed, self._done)

    def backfill(self, uploads: Iterable[Upload], window: int) -> None:
        """Seed the files as objects from before the stack, a page at a time, and follow
        one backfill execution (MaxConcurrency ``window``) per page to its end.

        Seeding everything first made memory grow with the folder: every object
        waiting in the embedded S3, and every item of the map, which moto keeps
        until its execution is dropped. A page is what the embedded AWS holds at
        once, whatever the number of files; each page's backfill lists the
        bucket, which then holds that page only, and is forgotten once saved.
        """
        pending = list(uploads)
        for number, start in enumerate(range(0, len(pending), BACKFILL_PAGE), 1):
            self._backfill_page(pending[start : start + BACKFILL_PAGE], window, number)

    def _backfill_page(self, uploads: list[Upload], window: int, number: int) -> None:
        sizes: dict[str, int] = {}
        with self.stack.upload_events_paused():
            for upload in uploads:
                data = upload.path.read_bytes()
                self.stack.upload(upload.key, data)
                sizes[upload.key] = len(data)
        name = time.strftime(f"backfill-%Y%m%dT%H%M%SZ-{number}", time.gmtime())
        parent = self.stack.start_backfill({"maxConcurrency": window}, name=name)
        waiting = set(sizes)  # keys whose child execution has not been seen yet
        changed = time.monotonic()
        while True:
            parent_ended = self.stack.describe(parent)["status"] in TERMINAL_STATUSES
            if self._poll():
                changed = time.monotonic()
            waiting -= self._open.keys() | self.reports.keys()
            if parent_ended and not self._open:
                break
            changed = self._settle(changed, lambda arns: bool(arns) and self._done(arns))
        ended = self.stack.describe(parent)
        for key in sorted(waiting):
            if ended["status"] == "SUCCEEDED":
                # The map listed and started everything: a key without an execution
                # was not matched by the upload rule's patterns, as in a run.
                self._unmatched += 1
            else:
                # The backfill itself failed before this key's turn: say so, by key.
                self.reports[key] = _not_reached(key, ended, sizes.get(key))
            self._drop(key)
        self._save_parent(parent, len(waiting) if ended["status"] == "SUCCEEDED" else 0)
        self.backfills += 1
        if waiting and self.progress is not None:
            self.progress(len(self.reports) + self._unmatched, self.images)

    def _settle(self, changed: float, done: Callable[[list[str]], bool]) -> float:
        """One step of a run's loop: close every key whose executions are ``done``, then
        report progress, stop what is stuck, or wait a little. Returns when the run
        last changed."""
        closed = [key for key, arns in self._open.items() if done(arns)]
        for key in closed:
            self._close(key)
        if closed:
            if self.progress is not None:
                self.progress(len(self.reports) + self._unmatched, self.images)
            return time.monotonic()
        if time.monotonic() - changed > self.limit:
            self._stop_stuck()
        else:
            time.sleep(0.05)
        return changed

    def _save_parent(self, arn: str, others: int) -> None:
        """The backfill execution's own history, beside its children's, and what it
        is billed for (``others``: objects its filter turned away)."""
        description = self.stack.describe(arn)
        events = self.stack.history(arn)
        definition = json.loads(self.stack.spec.backfill.definition)
        # moto runs the map's items in threads, not as child workflow executions:
        # each is billed as AWS would, from the item processor's path.
        per_image, per_other = map_item_transitions(definition)
        items = self._map_items(arn)
        self.counts.add_backfill(events, (items - others) * per_image + others * per_other)
        history.save(self.out_dir, history.SavedExecution(description, definition, events))
        # Written out: moto would keep it, and its map run's items, to the end of the run.
        moto_patches.forget_executions(self.stack.backfill_arn, {arn})

    def _map_items(self, arn: str) -> int:
        """How many objects the backfill's Distributed Map read (its map run's items)."""
        runs = self.stack.sfn.list_map_runs(executionArn=arn).get("mapRuns", [])
        if not runs:
            return 0
        described = self.stack.sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
        return int(described.get("itemCounts", {}).get("total", 0))

    def _poll(self) -> bool:
        """Learn new executions and ended ones; True if anything changed."""
        changed = False
        for execution in self.stack.executions():
            arn = execution["executionArn"]
            if arn not in self._key_of:
                description = self.stack.describe(arn)
                key = sys.intern(source_from_event(json.loads(description["input"])).key)
                self._key_of[arn] = key
                self._open.setdefault(key, []).append(arn)
                changed = True
            if execution["status"] in TERMINAL_STATUSES and arn not in self._ended:
                self._ended[arn] = self.stack.describe(arn)
                changed = True
        return changed

    def _done(self, arns: list[str]) -> bool:
        # Executions start while the upload (or the replacement) is written, so
        # a key with none when polled was not matched by the upload rule.
        return all(arn in self._ended for arn in arns)

    def _close(self, key: str) -> None:
        arns = self._open.pop(key)
        descriptions = [self._ended.pop(arn) for arn in arns]
        if not descriptions:
            self._unmatched += 1
            self._drop(key)
            return
        # The first execution of a key is the user's upload; in place, a later one
        # (started by our own replacement) ends Skipped and is not the image's story.
        first = min(descriptions, key=lambda d: d["startDate"])
        report = report_from_execution(first)
        _write_output(self.stack, report, self.out_dir)
        for description in descriptions:
            events = self.stack.history(description["executionArn"])
            self.counts.add(events)
            history.save(
                self.out_dir, history.SavedExecution(description, self._definition, events)
            )
        self.reports[key] = report
        self._drop(key)
        moto_patches.forget_executions(self.stack.state_machine_arn, set(arns))
        moto_patches.forget_finished_threads()
        self.stack.discard_notifications()
        for arn in arns:
            self._key_of.pop(arn, None)

    def _drop(self, key: str) -> None:
        """Every version of ``key`` in every bucket of the stack: written out, not kept."""
        for bucket in self.stack.spec.buckets.values():
            self.stack.delete_all_versions(bucket, key)

    def _stop_stuck(self) -> None:
        for arns in self._open.values():
            for arn in arns:
                if arn not in self._ended:
                    execution = self.stack.describe(arn)
                    self._ended[arn] = _stop(self.stack, execution, self.limit)


def _not_matched(upload: Upload) -> ImageReport:
    size = upload.path.stat().st_size
    return ImageReport(
        upload.key, "SUCCEEDED", Outcome.SKIPPED, size, None, None, None, NOT_MATCHED
    )


def _not_reached(key: str, backfill: dict[str, Any], size: int | None) -> ImageReport:
    """An image the backfill never started, because the backfill itself failed."""
    error = ErrorInfo(
        type=backfill.get("error") or f"Backfill{str(backfill['status']).title()}",
        message=f"the backfill {backfill['name']} ended {backfill['status']} before this "
        f"image's turn: {backfill.get('cause') or 'no cause given'}",
    )
    return ImageReport(key, "FAILED", Outcome.ERROR, size, None, error, backfill["executionArn"])


def _report_from_dict(entry: dict[str, Any]) -> ImageReport:
    error = entry.get("error")
    fields = {**entry, "error": ErrorInfo(**error) if error else None}
    known = ImageReport.__dataclass_fields__
    return ImageReport(**{k: v for k, v in fields.items() if k in known})


def _write_reports(out_dir: Path, reports: list[ImageReport]) -> None:
    write_report_json(out_dir, reports)
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


def _write_output(stack: EmbeddedStack, report: ImageReport, out_dir: Path) -> None:
    """The result, or the quarantined original, of one image."""
    if report.outcome in (Outcome.COMPRESSED, Outcome.KEPT_ORIGINAL):
        _save(out_dir / "compressed", report.key, stack.read(stack.result_bucket, report.key))
    elif report.status == "FAILED":
        data = stack.read_if_present(stack.failed_bucket, report.key)
        if data is not None:
            _save(out_dir / "failed", report.key, data)


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
