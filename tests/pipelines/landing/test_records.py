"""Parsing landing files into typed records: both formats, every bad-record shape."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from pipelines.core import spec
from pipelines.landing.records import FileUnusable, iter_raw_chunks, typed_records
from tests.samples import DEBRIEF, write_csv, write_jsonl


def read(path: Path, chunk_rows: int = 1000) -> pl.DataFrame:
    return pl.concat(typed_records(c.lazy()).collect() for c in iter_raw_chunks(path, chunk_rows))


def test_jsonl_record_is_typed_per_spec(tmp_path):
    t = read(write_jsonl(tmp_path / "a.jsonl", [DEBRIEF])).row(0, named=True)
    assert t["submitted_at"] == datetime(2026, 3, 2, 18, 4, tzinfo=UTC)
    assert t["interview_date"] == date(2026, 3, 2)
    assert t["experience_years"] == 9 and t["asked_fit_question"] is True
    assert t["fit_question_kinds"] == ["concerns", "ideal_candidate"]
    assert t["schema_version"] == 1  # absent means 1
    assert t["parse_errors"] == []
    assert t["source_line"] == 1


def test_csv_and_jsonl_give_identical_typed_records(tmp_path):
    outcome = {
        "record_type": "outcome",
        "record_id": "o-1",
        "firm_id": "north-star",
        "client_ref": "Jane Doe",
        "interview_ref": "int-77",
        "decided_at": "2026-03-20T09:00:00+02:00",
        "outcome": "offer",
        "referral": False,
    }
    j = read(write_jsonl(tmp_path / "a.jsonl", [DEBRIEF, outcome]))
    c = read(write_csv(tmp_path / "a.csv", [DEBRIEF, outcome], bom=True))
    assert c.drop("source_line").equals(j.drop("source_line"))
    assert c["decided_at"][1] == datetime(2026, 3, 20, 7, 0, tzinfo=UTC)


def test_csv_boolean_spellings_and_empty_cells(tmp_path):
    rows = [
        dict(DEBRIEF, record_id=f"d-{v}", asked_fit_question=v) for v in ("yes", "NO", "1", "0")
    ]
    rows.append(dict(DEBRIEF, record_id="d-n", notes=None, concerns_raised=[]))
    t = read(write_csv(tmp_path / "b.csv", rows))
    assert t["asked_fit_question"].to_list()[:4] == [True, False, True, False]
    assert t["notes"][4] is None
    assert t["concerns_raised"][4].to_list() == []


def test_csv_line_numbers_follow_multiline_cells(tmp_path):
    rows = [dict(DEBRIEF, notes="line one\nline two"), dict(DEBRIEF, record_id="d-2")]
    t = read(write_csv(tmp_path / "m.csv", rows))
    assert t["source_line"].to_list() == [2, 4]
    assert t["notes"][0] == "line one\nline two"


def test_bad_values_are_listed_not_fatal(tmp_path):
    bad = dict(
        DEBRIEF,
        experience_years="abc",
        asked_fit_question="maybe",
        submitted_at="yesterday",
        interview_date="2026-02-30",
        duration_min=45.5,
    )
    t = read(write_jsonl(tmp_path / "c.jsonl", [DEBRIEF, bad]))
    assert t["parse_errors"][0].to_list() == []
    errors = t["parse_errors"][1].to_list()
    assert "experience_years must be a whole number (got 'abc')" in errors
    assert any(e.startswith("asked_fit_question must be true/false") for e in errors)
    assert any(e.startswith("submitted_at must be an RFC 3339 timestamp") for e in errors)
    assert any(e.startswith("interview_date must be a date") for e in errors)
    assert any(e.startswith("duration_min must be a whole number") for e in errors)
    assert len(errors) == 5


def test_whole_float_is_accepted_as_int(tmp_path):
    t = read(write_jsonl(tmp_path / "f.jsonl", [dict(DEBRIEF, duration_min=45.0)]))
    assert t["duration_min"][0] == 45 and t["parse_errors"][0].to_list() == []


def test_timestamp_without_zone_is_rejected(tmp_path):
    t = read(write_jsonl(tmp_path / "z.jsonl", [dict(DEBRIEF, submitted_at="2026-03-02T18:04:00")]))
    assert t["submitted_at"][0] is None
    assert t["parse_errors"][0].to_list()[0].startswith("submitted_at must be an RFC 3339")


def test_personal_data_is_never_echoed_in_errors(tmp_path):
    bad = dict(DEBRIEF, experience_years="jane@example.com", duration_min="+1 415 555 0132")
    t = read(write_jsonl(tmp_path / "p.jsonl", [bad]))
    text = " ".join(t["parse_errors"][0].to_list())
    assert "jane" not in text and "555" not in text
    assert "experience_years must be a whole number" in text


def test_broken_lines_become_record_errors_with_line_numbers(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [DEBRIEF, "{not json", "[1, 2]", "", DEBRIEF])
    t = read(path)
    assert t["source_line"].to_list() == [1, 2, 3, 5]  # the blank line 4 is no record
    assert t["parse_errors"].to_list() == [
        [],
        ["line is not valid JSON"],
        ["line is a JSON value but not an object {...}"],
        [],
    ]


def test_chunks_cover_every_line_once(tmp_path):
    lines = [dict(DEBRIEF, record_id=f"d-{i}") for i in range(25)]
    t = read(write_jsonl(tmp_path / "e.jsonl", lines), chunk_rows=7)
    assert t["record_id"].to_list() == [f"d-{i}" for i in range(25)]
    assert t["source_line"].to_list() == list(range(1, 26))


def test_csv_ragged_row_is_a_record_error(tmp_path):
    path = write_csv(tmp_path / "r.csv", [DEBRIEF])
    path.write_text(path.read_text() + "debrief,1,d-2,north-star\n", encoding="utf-8")
    t = read(path)
    assert t["parse_errors"].to_list()[1] == [
        f"row has 4 fields but the header has {len(spec.CSV_COLUMNS)}"
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.jsonl", b'{"a": 1}\n\xff\xfe broken\n', "not UTF-8"),
        ("x.csv", b"a,b\n1,2\n", "no usable header row"),
        ("x.csv", "record_type,record_id\n".encode("utf-16"), "not UTF-8"),
        ("x.txt", b"hello", "not a landing file"),
    ],
)
def test_unusable_files_raise(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FileUnusable, match=message):
        read(path)


def test_csv_with_reordered_columns_crlf_and_missing_optional_columns(tmp_path):
    header = "client_ref,firm_id,record_id,record_type,interview_ref,decided_at,outcome,referral"
    row = "jane@x.org,north-star,o-1,outcome,int-77,2026-03-20t09:00:00.5z,offer,YES"
    path = tmp_path / "outcomes.csv"
    path.write_bytes(f"{header}\r\n{row}\r\n".encode())
    t = read(path).row(0, named=True)
    assert (t["record_type"], t["outcome"], t["referral"]) == ("outcome", "offer", True)
    assert t["decided_at"] == datetime(2026, 3, 20, 9, 0, 0, 500000, tzinfo=UTC)
    assert t["schema_version"] == 1 and t["notes"] is None
    assert t["parse_errors"] == []


def test_jsonl_with_bom_crlf_extra_fields_and_string_numbers(tmp_path):
    record = dict(DEBRIEF, experience_years="9", future_field={"x": 1}, fit_question_kinds=[])
    path = tmp_path / "a.jsonl"
    path.write_bytes(("\ufeff" + json.dumps(record) + "\r\n").encode())
    t = read(path).row(0, named=True)
    assert t["experience_years"] == 9 and t["fit_question_kinds"] == []
    assert t["parse_errors"] == []


@pytest.mark.parametrize("value", ["NaN", "inf", "-Infinity", "1e300", "9.5", "1e3x"])
def test_non_integers_are_record_errors_not_crashes(tmp_path, value):
    t = read(write_jsonl(tmp_path / "n.jsonl", [dict(DEBRIEF, duration_min=value)]))
    assert t["duration_min"][0] is None
    assert t["parse_errors"][0].to_list()[0].startswith("duration_min must be a whole number")


def test_csv_with_a_very_long_note_is_read(tmp_path):
    t = read(write_csv(tmp_path / "long.csv", [dict(DEBRIEF, notes="word " * 60_000)]))
    assert (
        len(t["notes"][0]) == len(("word " * 60_000).strip())
        and t["parse_errors"][0].to_list() == []
    )
