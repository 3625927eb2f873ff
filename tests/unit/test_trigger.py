import json
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from imgflow.contract import State
from imgflow.errors import InvalidEventError
from imgflow.trigger import source_from_event, source_of

AWKWARD_KEY = "a b+c(1)/ü.jpg"
EVENTS = Path(__file__).resolve().parents[2] / "events"


def eventbridge(key: str) -> dict:
    """events/eventbridge-object-created.json, naming this (encoded) key."""
    event = json.loads((EVENTS / "eventbridge-object-created.json").read_text())
    event["detail"]["bucket"]["name"] = "bkt"
    event["detail"]["object"] = {"key": key, "size": 10, "etag": "abc", "version-id": "v1"}
    return event


def s3_records(encoded_key: str) -> dict:
    """events/s3-put.json (``sam local generate-event s3 put``), naming this key."""
    event = json.loads((EVENTS / "s3-put.json").read_text())
    s3 = event["Records"][0]["s3"]
    s3["bucket"]["name"] = "bkt"
    s3["object"] = {"key": encoded_key, "size": 10, "eTag": "abc"}
    return event


def test_eventbridge_key_is_url_decoded_once():
    ref = source_from_event(eventbridge(quote_plus(AWKWARD_KEY, safe="/")))
    assert (ref.bucket, ref.key, ref.etag, ref.version_id, ref.size) == (
        "bkt",
        AWKWARD_KEY,
        "abc",
        "v1",
        10,
    )


def test_classic_s3_key_is_url_decoded_once():
    ref = source_from_event(s3_records(quote_plus(AWKWARD_KEY, safe="/")))
    assert ref.key == AWKWARD_KEY


def test_classic_s3_key_with_literal_percent_is_decoded_once_only():
    # "100%25.jpg" is the encoding of "100%.jpg"; decoding twice would break it.
    assert source_from_event(s3_records("100%2525.jpg")).key == "100%25.jpg"


def test_both_shapes_of_the_sample_events_name_their_objects(repo):
    bridge = json.loads((repo / "events/eventbridge-object-created.json").read_text())
    classic = json.loads((repo / "events/s3-put.json").read_text())
    assert source_from_event(bridge).key == "photos/harbour.jpg"
    assert source_from_event(classic).key == "photos/holiday snaps/straße 1.jpg"


def test_state_data_prefers_the_validated_source():
    state = eventbridge("k.jpg") | {"validated": {"source": {"bucket": "b", "key": "v.jpg"}}}
    assert source_from_event(state).key == "v.jpg"


@pytest.mark.parametrize(
    "event",
    [
        [],
        {"hello": "world"},
        {"Records": []},
        {"Records": [{"s3": {}}]},
        {"detail-type": "Object Created", "detail": {"bucket": {}}},
    ],
)
def test_events_that_name_no_object_are_rejected_clearly(event):
    with pytest.raises(InvalidEventError):
        source_from_event(event)


def test_a_listed_etag_loses_its_quotes_and_the_key_stays_raw():
    # What the backfill passes: a ListObjectsV2 item (raw key, quoted ETag).
    ref = source_from_event(
        {"source": {"bucket": "b", "key": "a b+c(1)/ü.jpg", "etag": '"abc"', "size": 3}}
    )
    assert (ref.key, ref.etag, ref.size) == ("a b+c(1)/ü.jpg", "abc", 3)


@pytest.mark.parametrize("shape", [eventbridge, s3_records])
def test_the_state_machines_wrapper_with_the_execution_names_the_same_object(shape):
    event = shape(quote_plus(AWKWARD_KEY))  # S3 URL-encodes the key in both shapes
    wrapped = {"event": event, "execution": "arn:aws:states:us-east-1:1:execution:wf:x"}
    assert source_from_event(wrapped) == source_from_event(event)
    assert source_from_event(wrapped).key == AWKWARD_KEY


def test_an_inventory_row_reaches_the_workflow_with_its_real_key():
    item = {
        "Bucket": "cms-uploads",
        "Key": "photos/holiday%20snaps/stra%C3%9Fe+1%2B2.jpg",
        "Size": "124550",
        "ETag": "0123abcd",
        "LastModifiedDate": "2026-11-30T10:00:00.000Z",
    }
    ref = source_from_event(
        {"manifestItem": item, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "x"}
    )
    assert (ref.bucket, ref.key, ref.size, ref.etag) == (
        "cms-uploads",
        "photos/holiday snaps/straße 1+2.jpg",
        124550,
        "0123abcd",
    )


def test_a_csv_list_row_without_size_or_etag_names_its_object():
    ref = source_from_event({"manifestItem": {"Bucket": "b", "Key": "a+b%28c%29.png"}})
    assert (ref.key, ref.size, ref.etag) == ("a b(c).png", None, None)
    ref = source_from_event({"manifestItem": {"Bucket": "b", "Key": "x.png", "Size": ""}})
    assert ref.size is None


def test_a_manifest_item_without_a_key_is_an_invalid_event():
    with pytest.raises(InvalidEventError, match="manifest item lacks 'Key'"):
        source_from_event({"manifestItem": {"Bucket": "b"}})


def test_an_eventbridge_event_without_the_object_key_names_the_field():
    event = eventbridge("k.jpg")
    del event["detail"]["object"]["key"]
    with pytest.raises(
        InvalidEventError, match=r"EventBridgeModel: detail\.object\.key: Field required"
    ):
        source_from_event(event)


def test_an_eventbridge_event_without_an_etag_names_its_object_without_one():
    # Powertools' model defaults the ETag to "" (versions of the event without one).
    event = eventbridge("k.jpg")
    del event["detail"]["object"]["etag"]
    assert source_from_event(event).etag is None


def test_a_put_record_without_size_is_rejected_as_powertools_requires():
    event = s3_records("k.jpg")
    del event["Records"][0]["s3"]["object"]["size"]
    with pytest.raises(InvalidEventError, match="S3Model"):
        source_from_event(event)


def test_the_state_names_the_validated_object_else_its_trigger_s():
    trigger = eventbridge(quote_plus(AWKWARD_KEY))
    assert source_of(State.model_validate(trigger)).key == AWKWARD_KEY
    validated = {"validated": {"source": {"bucket": "b", "key": "v.jpg"}}}
    assert source_of(State.model_validate(trigger | validated)).key == "v.jpg"
