"""imgflow's metrics as Powertools publishes them (EMF on stdout), one invocation at a time."""

from __future__ import annotations

import json

import pytest

from imgflow.aws import telemetry
from imgflow.aws.telemetry import metrics, record_outcome
from imgflow.contract import Outcome


@pytest.fixture
def published(capsys, monkeypatch):
    """``flush()``: end an invocation as @metrics.log_metrics does; return its EMF record."""
    monkeypatch.setattr(metrics, "service", "imgflow")
    metrics.clear_metrics()
    capsys.readouterr()

    def flush() -> dict:
        metrics.flush_metrics()
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    yield flush
    metrics.clear_metrics()


def test_a_stored_result_counts_the_image_and_its_bytes_by_outcome_and_format(published):
    record_outcome(Outcome.COMPRESSED, "JPEG", bytes_in=1000, bytes_out=600)

    record = published()

    (emf,) = record["_aws"]["CloudWatchMetrics"]
    assert [tuple(d) for d in emf["Dimensions"]] == list(telemetry.DIMENSION_SETS)
    assert {m["Name"] for m in emf["Metrics"]} == set(telemetry.METRIC_NAMES)
    assert record["service"] == "imgflow"
    assert record["outcome"] == "compressed" and record["format"] == "JPEG"
    assert (record["Images"], record["BytesSaved"]) == ([1.0], [400.0])


def test_an_invocation_never_inherits_the_previous_ones_dimensions(published):
    record_outcome(Outcome.COMPRESSED, "PNG", bytes_in=10, bytes_out=5)
    published()

    record_outcome(Outcome.REJECTED, None)
    record = published()

    assert record["outcome"] == "rejected"
    assert "format" not in record, "rejected before validation read a format"
    (emf,) = record["_aws"]["CloudWatchMetrics"]
    assert emf["Dimensions"] == [["service"], ["service", "outcome"]]
    assert [m["Name"] for m in emf["Metrics"]] == ["Images"]


def test_a_skipped_store_counts_the_execution_but_not_the_winners_bytes(published):
    record_outcome(Outcome.SKIPPED, "JPEG", bytes_in=1000, bytes_out=600)

    record = published()

    assert record["Images"] == [1.0]
    assert "BytesSaved" not in record


def test_without_a_service_name_the_sets_carry_only_what_is_known(published, monkeypatch):
    monkeypatch.setattr(metrics, "service", None)
    record_outcome(Outcome.ERROR, "PNG")

    (emf,) = published()["_aws"]["CloudWatchMetrics"]

    assert emf["Dimensions"][1:] == [["outcome"], ["format"]]
