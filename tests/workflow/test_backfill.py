"""The backfill state machine on the embedded runtime: objects that were in the source
bucket before the stack, listed by a Distributed Map (several ListObjectsV2 pages)
and run through the image workflow, one child execution each.

The objects are seeded with the bucket's upload events paused, so only the
backfill starts executions. Handlers run in this process (``workers=None``):
what is tested here is the orchestration, which is the same either way.
"""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from typing import Any

import pytest
from PIL import Image

from imgflow.contract import META_SOURCE_ETAG
from imgflow.trigger import source_from_event
from imgflow_toolkit.local import moto_patches
from imgflow_toolkit.local.moto_patches import item_reader
from imgflow_toolkit.local.runtime import EmbeddedStack

OBJECTS = 1050  # more than S3's 1,000 keys per ListObjectsV2 page
PAGE = 250  # and with the reader's page lowered, five pages
CONCURRENCY = 8


def tiny_jpeg(i: int) -> bytes:
    image = Image.new("RGB", (24, 16), ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
    image.putpixel((i % 24, i % 16), (0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70 + i % 26)
    return buffer.getvalue()


def seed(stack: EmbeddedStack, objects: dict[str, bytes]) -> None:
    with stack.upload_events_paused():
        for key, data in objects.items():
            stack.upload(key, data)
    assert stack.executions() == [], "seeding must not start executions"


def backfill(stack: EmbeddedStack, timeout: float = 1800) -> dict[str, Any]:
    before = {e["executionArn"] for e in stack.executions()}
    arn = stack.start_backfill({"maxConcurrency": CONCURRENCY})
    parent = moto_patches.wait_for_execution(stack.sfn, arn, timeout=timeout, poll=0.2)
    children = [
        stack.describe(e["executionArn"])
        for e in stack.executions()
        if e["executionArn"] not in before
    ]
    return {"parent": parent, "children": children}


def keys_of(children: list[dict[str, Any]]) -> Counter[str]:
    # Backfill children carry the contract's input, uploads an EventBridge event.
    return Counter(source_from_event(json.loads(c["input"])).key for c in children)


def results(stack: EmbeddedStack) -> dict[str, tuple[str, str]]:
    """key -> (ETag, source ETag) of every object in the result bucket."""
    found = {}
    for key in stack.keys(stack.result_bucket):
        head = stack.s3.head_object(Bucket=stack.result_bucket, Key=key)
        found[key] = (head["ETag"], head["Metadata"].get(META_SOURCE_ETAG))
    return found


def skip_reasons(children: list[dict[str, Any]]) -> Counter[str]:
    return Counter(json.loads(c["output"])["validated"]["reason"] for c in children)


def test_a_backfill_of_several_pages_processes_each_object_once_and_a_rerun_writes_nothing(
    repo, monkeypatch
):
    monkeypatch.setattr(item_reader, "item_reader_page_size", PAGE)
    objects = {f"old/img{i:04d}.jpg": tiny_jpeg(i) for i in range(OBJECTS)}
    objects["old/notes.txt"] = b"not an image: the upload rule would not match it"
    objects["_imgflow-staging/old/img0000"] = b"a staged result: never an input"
    with EmbeddedStack(repo / "template.yaml") as stack:
        seed(stack, objects)

        first = backfill(stack)
        assert first["parent"]["status"] == "SUCCEEDED", first["parent"]
        images = {k for k in objects if k.endswith(".jpg")}
        assert keys_of(first["children"]) == Counter({k: 1 for k in images})
        assert {c["status"] for c in first["children"]} == {"SUCCEEDED"}
        done = results(stack)
        assert set(done) == images
        assert all(source_etag for _, source_etag in done.values())

        second = backfill(stack)
        assert second["parent"]["status"] == "SUCCEEDED", second["parent"]
        assert keys_of(second["children"]) == Counter({k: 1 for k in images})
        assert skip_reasons(second["children"]) == Counter({"already_processed": len(images)})
        assert results(stack) == done  # not one result written again
        assert stack.keys(stack.failed_bucket) == sorted(
            k for k in stack.keys(stack.failed_bucket) if k.startswith("backfill-results/")
        )


def test_a_backfill_overlapping_uploads_of_the_same_keys_yields_one_result_per_key(repo):
    objects = {f"live/img{i:03d}.jpg": tiny_jpeg(i) for i in range(40)}
    with EmbeddedStack(repo / "template.yaml") as stack:
        seed(stack, objects)
        # The same bytes uploaded again while the backfill runs: each upload's own
        # event starts an execution of the same key, racing the backfill's.
        racing = threading.Thread(
            target=lambda: [stack.upload(k, v) for k, v in objects.items()], daemon=True
        )
        arn = stack.start_backfill({"maxConcurrency": CONCURRENCY})
        racing.start()
        racing.join(timeout=120)
        moto_patches.wait_for_execution(stack.sfn, arn, timeout=600, poll=0.2)
        executions = stack.wait(timeout=600)
        assert keys_of(executions) == Counter({k: 2 for k in objects})
        assert {e["status"] for e in executions} == {"SUCCEEDED"}
        done = results(stack)
        assert set(done) == set(objects)
        for key, (_, source_etag) in done.items():
            head = stack.s3.head_object(Bucket=stack.source_bucket, Key=key)
            assert source_etag == head["ETag"].strip('"'), key
        notified = Counter(n["body"].get("key") for n in stack.notifications())
        assert notified == Counter({k: 1 for k in objects}), "one result, one message per key"


@pytest.mark.parametrize("prefix", ["old/", ""])
def test_a_backfill_is_limited_to_keyprefix_whatever_prefix_it_is_given(repo, prefix):
    objects = {"photos/a.jpg": tiny_jpeg(1), "old/b.jpg": tiny_jpeg(2)}
    with EmbeddedStack(repo / "template.yaml", {"KeyPrefix": "photos/"}) as stack:
        seed(stack, objects)
        arn = stack.start_backfill({"prefix": prefix} if prefix else {})
        moto_patches.wait_for_execution(stack.sfn, arn, timeout=120, poll=0.1)
        started = keys_of(stack.wait(timeout=120))
    assert started == (Counter() if prefix == "old/" else Counter({"photos/a.jpg": 1}))


def test_imgflow_run_backfill_writes_what_imgflow_run_writes(repo, tmp_path):
    from imgflow_toolkit.local.run import NOT_MATCHED, run

    source = tmp_path / "in"
    for path in (repo / "samples").rglob("*"):
        if path.is_file():
            target = source / path.relative_to(repo / "samples")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    (source / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    reports = run([source], out, template=repo / "template.yaml", workers=1, backfill=True)

    entries = {e["key"]: e for e in json.loads((out / "report.json").read_text())}
    assert set(entries) == {r.key for r in reports} and len(entries) == 6
    assert entries["broken/truncated.jpg"]["outcome"] == "rejected"
    assert entries["notes.txt"]["reason"] == NOT_MATCHED
    photos = [e for k, e in entries.items() if k.startswith("photos/")]
    assert {e["outcome"] for e in photos} == {"compressed"}
    for entry in photos:
        assert (out / "compressed" / entry["key"]).is_file()
    assert (out / "failed" / "broken/truncated.jpg").is_file()
    assert (out / "report.html").is_file() and (out / "cost.json").is_file()
    saved = {p.stem for p in (out / "executions").glob("*.json")}
    children = {e["execution"].rsplit(":", 1)[1] for e in entries.values() if e["execution"]}
    (parent,) = saved - children
    assert parent.startswith("backfill-") and children <= saved
    assert json.loads((out / "run.json").read_text())["backfill"] is True
    # The map's child workflow per file (start, Choice, then the Task or Not an image: 3)
    # and the parent's 4 states (Settings, Apply the input, Listed?, the map).
    assert json.loads((out / "cost.json").read_text())["map_transitions"] == 6 * 3 + 4


def test_imgflow_backfill_wait_follows_the_deployed_backfill_to_its_end(repo, monkeypatch, capsys):
    import argparse

    import boto3

    from imgflow_toolkit.commands import backfill as command

    objects = {f"old/img{i}.jpg": tiny_jpeg(i) for i in range(6)}
    with EmbeddedStack(repo / "template.yaml") as stack:
        seed(stack, objects)
        # What `sam deploy` leaves behind: a stack whose outputs name the backfill.
        outputs = {
            "BackfillStateMachineArn": stack.backfill_arn,
            "SourceBucketName": stack.source_bucket,
        }
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {k: {"Value": v} for k, v in outputs.items()},
        }
        session = boto3.Session(region_name="us-east-1")
        session.client("cloudformation").create_stack(
            StackName="imgflow", TemplateBody=json.dumps(template)
        )
        monkeypatch.setattr(command, "POLL_SECONDS", 0.2)
        args = argparse.Namespace(
            stack_name="imgflow",
            prefix="old/",
            manifest=None,
            max_concurrency=3,
            tolerated_failure_percentage=None,
            dry_run=False,
            wait=True,
            mb_per_megapixel=None,
            template=None,
            region="us-east-1",
            profile=None,
        )
        assert command.main(args, session) == 0, capsys.readouterr().err
        assert set(results(stack)) == set(objects)
    printed = capsys.readouterr().out
    assert "SUCCEEDED" in printed and "backfill-results/" in printed
    assert "'succeeded': 6" in printed, printed


def test_a_failed_backfill_reports_every_image_it_never_reached(repo, tmp_path, monkeypatch):
    from imgflow_toolkit.local.run import run

    source = tmp_path / "in"
    source.mkdir()
    for i in range(3):
        (source / f"img{i}.jpg").write_bytes(tiny_jpeg(i))
    original = EmbeddedStack.start_backfill

    def start_with_bad_settings(self, settings=None, name=None):
        # MaxConcurrencyPath naming no integer fails the backfill before any item.
        return original(self, {"maxConcurrency": "many"}, name)

    monkeypatch.setattr(EmbeddedStack, "start_backfill", start_with_bad_settings)
    reports = run(
        [source], tmp_path / "out", template=repo / "template.yaml", workers=1, backfill=True
    )
    assert [(r.key, r.status, r.outcome) for r in reports] == [
        (f"img{i}.jpg", "FAILED", "error") for i in range(3)
    ]
    assert all(
        r.error and "ended FAILED before this image's turn" in r.error.message for r in reports
    )
    assert all(r.execution and ":backfill-" in r.execution for r in reports)


def test_a_local_backfill_holds_one_page_of_files_at_a_time(repo, tmp_path, monkeypatch):
    from imgflow_toolkit.local import run as local_run

    source = tmp_path / "in"
    source.mkdir()
    for i in range(5):
        (source / f"img{i}.jpg").write_bytes(tiny_jpeg(i))
    monkeypatch.setattr(local_run, "BACKFILL_PAGE", 2)
    held = []
    original = EmbeddedStack.upload

    def upload_and_count(self, key, data, content_type=None):
        put = original(self, key, data, content_type)
        held.append(len(self.keys(self.source_bucket)))
        return put

    monkeypatch.setattr(EmbeddedStack, "upload", upload_and_count)
    forgotten = []
    forget = moto_patches.forget_executions

    def forget_and_record(state_machine_arn, arns):
        forgotten.extend(a for a in arns if ":backfill-" in a)
        return forget(state_machine_arn, arns)

    monkeypatch.setattr(moto_patches, "forget_executions", forget_and_record)
    out = tmp_path / "out"
    reports = local_run.run(
        [source], out, template=repo / "template.yaml", workers=1, backfill=True
    )
    assert [(r.key, r.outcome) for r in reports] == [
        (f"img{i}.jpg", "compressed") for i in range(5)
    ]
    assert max(held) == 2, held  # never more than a page in the embedded S3
    parents = sorted(p.stem for p in (out / "executions").glob("backfill-*.json"))
    assert [p.rsplit("-", 1)[1] for p in parents] == ["1", "2", "3"]
    # each page's backfill, once saved, is dropped from the embedded AWS with its map run
    assert sorted(a.rsplit(":", 1)[1] for a in forgotten) == parents


# --------------------------------------------------------------------------- manifests

# Keys as S3 Inventory writes them (URL-encoded, "+" for a space), with what the
# backfill must make of them: the real key, or None where the upload rule would not
# match (outside KeyPrefix, no image suffix, or another bucket's object).
MANIFEST_ROWS = [
    ("SOURCE", "photos/holiday%20snaps/stra%C3%9Fe+1.jpg", "photos/holiday snaps/straße 1.jpg"),
    ("SOURCE", "photos/a%2Bb+%281%29.PNG", "photos/a+b (1).PNG"),
    ("SOURCE", "photos/plain.jpeg", "photos/plain.jpeg"),
    ("SOURCE", "photos/notes.txt", None),
    ("SOURCE", "other/outside.jpg", None),
    ("someone-elses-bucket", "photos/theirs.jpg", None),
]


def inventory_csv(rows: list[tuple[str, str, int]]) -> bytes:
    import csv
    import gzip

    text = io.StringIO()
    csv.writer(text, quoting=csv.QUOTE_ALL).writerows(rows)
    return gzip.compress(text.getvalue().encode())


def put_inventory(stack: EmbeddedStack, objects: dict[str, bytes]) -> str:
    """An S3 Inventory of the source bucket (two data files), as S3 delivers one."""
    rows = [
        (stack.source_bucket if b == "SOURCE" else b, k, len(objects.get(real or "", b"x")))
        for b, k, real in MANIFEST_ROWS
    ]
    stack.s3.create_bucket(Bucket="inventory")
    files = []
    for n, part in enumerate([rows[:3], rows[3:]]):
        key = f"inv/source/daily/2026-12-01T01-00Z/data/part-{n}.csv.gz"
        stack.s3.put_object(Bucket="inventory", Key=key, Body=inventory_csv(part))
        files.append({"key": key, "size": 1, "MD5checksum": "0"})
    manifest = {
        "sourceBucket": stack.source_bucket,
        "destinationBucket": "arn:aws:s3:::inventory",
        "version": "2016-11-30",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size",
        "files": files,
    }
    key = "inv/source/daily/2026-12-01T01-00Z/manifest.json"
    stack.s3.put_object(Bucket="inventory", Key=key, Body=json.dumps(manifest).encode())
    return key


def put_csv_list(stack: EmbeddedStack) -> str:
    text = io.StringIO()
    import csv

    for bucket, key, _ in MANIFEST_ROWS:
        csv.writer(text).writerow([stack.source_bucket if bucket == "SOURCE" else bucket, key])
    stack.s3.create_bucket(Bucket="inventory")
    stack.s3.put_object(Bucket="inventory", Key="lists/old.csv", Body=text.getvalue().encode())
    return "lists/old.csv"


def run_manifest_backfill(stack: EmbeddedStack, key: str) -> dict[str, Any]:
    before = {e["executionArn"] for e in stack.executions()}
    settings = {"manifest": {"bucket": "inventory", "key": key}, "maxConcurrency": 4}
    arn = stack.start_backfill(settings)
    parent = moto_patches.wait_for_execution(stack.sfn, arn, timeout=600, poll=0.1)
    children = [stack.describe(e["executionArn"]) for e in stack.wait(timeout=600)]
    return {"parent": parent, "children": [c for c in children if c["executionArn"] not in before]}


@pytest.mark.parametrize("kind", ["inventory", "csv list"])
def test_a_manifest_backfill_runs_each_eligible_object_once_by_its_real_key(repo, kind):
    real_keys = [real for _, _, real in MANIFEST_ROWS if real]
    objects = {k: tiny_jpeg(i) for i, k in enumerate(real_keys)}
    objects |= {"photos/notes.txt": b"text", "other/outside.jpg": tiny_jpeg(9)}
    with EmbeddedStack(repo / "template.yaml", {"KeyPrefix": "photos/"}) as stack:
        seed(stack, objects)
        key = put_inventory(stack, objects) if kind == "inventory" else put_csv_list(stack)

        first = run_manifest_backfill(stack, key)
        assert first["parent"]["status"] == "SUCCEEDED", first["parent"]
        assert keys_of(first["children"]) == Counter({k: 1 for k in real_keys})
        assert {c["status"] for c in first["children"]} == {"SUCCEEDED"}
        assert set(results(stack)) == set(real_keys)  # each compressed, by its real key
        if kind == "inventory":
            sizes = {json.loads(c["input"])["manifestItem"]["Size"] for c in first["children"]}
            assert sizes == {str(len(objects[k])) for k in real_keys}

        done = results(stack)
        second = run_manifest_backfill(stack, key)
        assert second["parent"]["status"] == "SUCCEEDED", second["parent"]
        assert skip_reasons(second["children"]) == Counter({"already_processed": len(real_keys)})
        assert results(stack) == done


@pytest.mark.parametrize(
    ("manifest", "error", "cause"),
    [
        (None, "States.ItemReaderFailed", "NoSuchKey"),
        (b"{not json", "States.ItemReaderFailed", "not an S3 Inventory manifest"),
        (b'{"fileFormat": "Parquet"}', "States.ItemReaderFailed", "only CSV inventories"),
    ],
)
def test_a_missing_or_malformed_manifest_fails_the_backfill_and_touches_nothing(
    repo, manifest, error, cause
):
    objects = {"photos/a.jpg": tiny_jpeg(1)}
    with EmbeddedStack(repo / "template.yaml") as stack:
        seed(stack, objects)
        stack.s3.create_bucket(Bucket="inventory")
        if manifest is not None:
            stack.s3.put_object(Bucket="inventory", Key="inv/manifest.json", Body=manifest)
        ended = run_manifest_backfill(stack, "inv/manifest.json")
        assert ended["parent"]["status"] == "FAILED"
        assert ended["parent"]["error"] == error and cause in ended["parent"]["cause"], ended
        assert ended["children"] == []
        assert stack.read(stack.source_bucket, "photos/a.jpg") == objects["photos/a.jpg"]
        assert results(stack) == {}


def test_a_manifest_that_is_neither_an_inventory_nor_a_csv_list_is_refused_by_name(repo):
    with EmbeddedStack(repo / "template.yaml") as stack:
        stack.s3.create_bucket(Bucket="inventory")
        ended = run_manifest_backfill(stack, "inv/list.txt")
    assert ended["parent"]["status"] == "FAILED" and ended["children"] == []
    assert ended["parent"]["error"] == "UnsupportedManifest"
