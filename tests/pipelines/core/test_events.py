"""Mapping anonymised records to events (pure function, small inline frames)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import polars as pl

from pipelines.core.events import events_from_records
from warehouse.store import NEW_EVENT_SCHEMA

T = datetime(2026, 3, 2, 18, 4, 5, 123000, tzinfo=UTC)


def records(application_key=None, round_=None) -> pl.LazyFrame:
    return pl.DataFrame(
        {
            "source_line": [3, 1, 2],
            "record_type": ["erasure", "debrief", "outcome"],
            "record_id": ["e-1", "d-1", "o-1"],
            "firm_id": ["north-star"] * 3,
            "client_key": ["ck"] * 3,
            "interview_key": [None, "ik", "ik"],
            "application_key": [None, application_key, application_key],
            "round": [None, round_, None],
            "submitted_at": [None, T, None],
            "interview_date": [None, date(2026, 3, 2), None],
            "stage": [None, "final", None],
            "interviewer_role": [None, "peer", None],
            "industry": [None, "software", None],
            "role_family": [None, "engineering", None],
            "seniority": [None, "mid", None],
            "experience_band": [None, "3-5", None],
            "duration_min": [None, 45, None],
            "asked_fit_question": [None, True, None],
            "fit_question_kinds": [[], ["concerns"], []],
            "asked_at_pct": [None, 75, None],
            "rapport_before_ask": [None, 4, None],
            "concerns_raised": [[], [], []],
            "concerns_addressed": [None, None, None],
            "self_rating": [None, 2, None],
            "notes": [None, "Met [NAME].", None],
            "decided_at": [None, None, T],
            "outcome": [None, None, "offer"],
            "referral": [None, None, True],
            "requested_at": [T, None, None],
        },
        schema_overrides={
            "submitted_at": pl.Datetime("us", "UTC"),
            "decided_at": pl.Datetime("us", "UTC"),
            "requested_at": pl.Datetime("us", "UTC"),
            "application_key": pl.String,
            "round": pl.Int64,
        },
    ).lazy()


def test_one_event_per_record_in_file_order_with_store_schema():
    events = events_from_records(records(), "f.jsonl").collect()
    assert events.columns == list(NEW_EVENT_SCHEMA)
    assert events["event_type"].to_list() == [
        "DebriefSubmitted",
        "OutcomeRecorded",
        "ErasureRequested",
    ]
    assert events["stream_id"].to_list() == ["interview-ik", "interview-ik", "client-ck"]
    assert events["occurred_at"].to_list() == [T, T, T]
    assert set(events["source_file"]) == {"f.jsonl"}


def test_payloads_hold_only_their_event_fields_with_iso_timestamps():
    events = events_from_records(records(), "f.jsonl").collect()
    debrief, outcome, erasure = (json.loads(p) for p in events["payload"])
    assert debrief["submitted_at"] == "2026-03-02T18:04:05.123000Z"
    assert debrief["interview_date"] == "2026-03-02"
    assert debrief["fit_question_kinds"] == ["concerns"]
    assert "decided_at" not in debrief and "record_id" not in debrief
    assert outcome == {
        "interview_key": "ik",
        "client_key": "ck",
        "decided_at": "2026-03-02T18:04:05.123000Z",
        "outcome": "offer",
        "referral": True,
    }
    assert erasure == {"client_key": "ck", "requested_at": "2026-03-02T18:04:05.123000Z"}


def test_payload_serialisation_is_deterministic():
    a = events_from_records(records(), "f.jsonl").collect()["payload"]
    b = events_from_records(records().reverse(), "f.jsonl").collect()["payload"]
    assert a.to_list() == b.to_list()


def test_revision_1_0_records_keep_their_version_1_payloads():
    events = events_from_records(records(), "f.jsonl").collect()
    assert events["schema_version"].to_list() == [1, 1, 1]
    assert all("application_key" not in p and '"round"' not in p for p in events["payload"])


def test_revision_1_1_fields_make_a_version_2_payload():
    events = events_from_records(records("ak", 2), "f.jsonl").collect()
    debrief, outcome, _ = (json.loads(p) for p in events["payload"])
    assert events["schema_version"].to_list() == [2, 2, 1]
    assert (debrief["application_key"], debrief["round"]) == ("ak", 2)
    assert list(debrief)[:4] == ["interview_key", "client_key", "application_key", "round"]
    assert (outcome["application_key"], list(outcome)[2]) == ("ak", "application_key")
