"""Awkward object keys keep their exact names in every bucket, for both event shapes.

S3 URL-encodes keys in both of its event shapes (EventBridge "Object Created"
and classic ``Records``): a space arrives as ``+``, a ``+`` as ``%2B``. The
key is decoded once, in imgflow.trigger; decoding twice (``%25`` -> ``%``) or
not at all (``+`` kept) would write results under the wrong name.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from workflow_support import sample

from imgflow.contract import META_MARKER
from imgflow_toolkit.local.runtime import EmbeddedStack

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
EVENTS = Path(__file__).resolve().parents[2] / "events"
MAX_KEY_BYTES = 1024  # S3's limit, in UTF-8 bytes


def longest_key(prefix: str) -> str:
    """A key of exactly 1,024 UTF-8 bytes under ``prefix``, with multi-byte characters."""
    head = f"{prefix}long/ü 写真/"
    filler = MAX_KEY_BYTES - len(head.encode()) - len(".jpg")
    key = head + "x" * filler + ".jpg"
    assert len(key.encode()) == MAX_KEY_BYTES
    return key


NAMES = [
    "holiday snaps/beach day.jpg",
    "plus/a+b+c.jpg",
    "mixed/a b+c(1)/straße ü.jpg",
    "unicode/写真 📷 café.jpg",
    "parens/(draft) copy (1).jpg",
    "percent/100%25 sure%2B.jpg",  # a literal "%25": decoded once, it stays "%25"
    "deep/" + "/".join(f"level-{i}" for i in range(40)) + "/leaf.jpg",
]


def cases() -> dict[str, bytes]:
    good, bad = sample("photos/harbour.jpg"), sample("broken/truncated.jpg")
    out = {}
    for name in NAMES:
        out[f"good/{name}"] = good
        out[f"bad/{name}"] = bad
    out[longest_key("good/")] = good
    out[longest_key("bad/")] = bad
    return out


def classic_s3_event(bucket: str, key: str, put: dict) -> str:
    """events/s3-put.json (the `sam local generate-event s3 put` shape) for this object."""
    event = json.loads((EVENTS / "s3-put.json").read_text())
    obj = event["Records"][0]["s3"]["object"]
    event["Records"][0]["s3"]["bucket"]["name"] = bucket
    obj.update(key=quote_plus(key, safe="/"), eTag=put["ETag"].strip('"'))
    if put.get("VersionId"):
        obj["versionId"] = put["VersionId"]
    return json.dumps(event)


def run(shape: str, in_place: bool) -> dict:
    with EmbeddedStack(TEMPLATE, {"InPlace": "true"} if in_place else None) as stack:
        if shape == "s3-records":
            # Only the executions this test starts, with the classic shape.
            for rule in stack.spec.state_machine.rules:
                stack.events.disable_rule(Name=rule.name)
        uploads = cases()
        for key, data in uploads.items():
            put = stack.upload(key, data)
            if shape == "s3-records":
                stack.sfn.start_execution(
                    stateMachineArn=stack.state_machine_arn,
                    input=classic_s3_event(stack.source_bucket, key, put),
                )
        executions = stack.wait()
        return {
            "uploads": uploads,
            "statuses": sorted(e["status"] for e in executions),
            "source": sorted(stack.keys(stack.source_bucket)),
            "result": sorted(stack.keys(stack.result_bucket)),
            "failed": sorted(stack.keys(stack.failed_bucket)),
            "failed_bytes": {k: stack.read(stack.failed_bucket, k) for k in uploads if "bad/" in k},
            "markers": {
                k: stack.s3.head_object(Bucket=stack.result_bucket, Key=k)["Metadata"].get(
                    META_MARKER
                )
                for k in uploads
                if k.startswith("good/")
            },
            "notes": sorted(n["body"]["key"] for n in stack.notifications()),
        }


@pytest.mark.parametrize("in_place", [False, True], ids=["destination", "in-place"])
@pytest.mark.parametrize("shape", ["eventbridge", "s3-records"])
def test_awkward_keys_keep_their_exact_names_in_every_bucket(shape, in_place):
    seen = run(shape, in_place)
    uploads = seen["uploads"]
    good = sorted(k for k in uploads if k.startswith("good/"))
    bad = sorted(k for k in uploads if k.startswith("bad/"))
    # In place, each replacement is an upload too (EventBridge shape only):
    # its execution skips it as imgflow's own output.
    replacements = len(good) if in_place and shape == "eventbridge" else 0
    assert seen["statuses"].count("SUCCEEDED") == len(good) + replacements
    assert seen["statuses"].count("FAILED") == len(bad)
    assert seen["failed"] == bad
    assert all(seen["failed_bytes"][k] == uploads[k] for k in bad), "byte-identical copies"
    if in_place:
        assert seen["source"] == sorted(uploads), "no key renamed, no staging left behind"
    else:
        assert seen["source"] == sorted(uploads)
        assert seen["result"] == good
    assert all(seen["markers"][k] == "1" for k in good), "each result stored under its own key"
    assert seen["notes"] == sorted(uploads), "one notification per upload, naming its key"
