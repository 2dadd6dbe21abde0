"""The pandas baseline does the ingest's work: it refuses what the contract refuses, pseudonymises
with the same keyed HMAC, scrubs contact data from notes and keeps one record per record_id."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.bench import pandas_baseline as bench_pandas
from pipelines.privacy.anonymise import pseudonym
from tests.samples import DEBRIEF, ERASURE, OUTCOME, debrief, write_jsonl

KEY = b"bench-test-key"


@pytest.fixture
def ingested(tmp_path):
    path = write_jsonl(
        tmp_path / "batch.jsonl",
        [
            DEBRIEF,
            OUTCOME,
            ERASURE,
            debrief(2, stage="lunch"),
            debrief(3, asked_fit_question=False),  # still says when and how it asked
            debrief(4, interview_date="2026-03-05"),  # after the debrief was written
            debrief(5, experience_years="nine"),
            debrief(6, fit_question_kinds=["concerns", "salary"]),
            debrief(7, submitted_at="2026-03-02T18:04:00"),  # no time zone
            debrief(8),
            debrief(8),  # delivered twice
        ],
    )
    database = tmp_path / "pandas.duckdb"
    counts = bench_pandas.ingest([path], database, KEY)
    con = duckdb.connect(str(database), read_only=True)
    yield counts, con
    con.close()


def test_invalid_records_are_quarantined_with_the_rule_they_break(ingested):
    counts, con = ingested
    reasons = dict(con.execute("SELECT record_id, reason FROM quarantine").fetchall())
    assert reasons == {
        "d-2": "stage.enum",
        "d-3": "asked_at_pct.empty_when_not_asked",
        "d-4": "interview_date.after_submitted",
        "d-5": "experience_years.range",
        "d-6": "fit_question_kinds.members",
        "d-7": "submitted_at.timestamp",
    }
    assert counts == {"records": 11, "valid": 4}
    kept = sorted(r for (r,) in con.execute("SELECT record_id FROM records").fetchall())
    assert kept == ["d-1", "d-8", "e-1", "o-1"]


def test_refs_become_the_pipelines_pseudonyms_and_leave_no_trace(ingested):
    _, con = ingested
    columns = {c for (c,) in con.execute("SELECT column_name FROM (DESCRIBE records)").fetchall()}
    assert not {"client_ref", "interview_ref", "experience_years"} & columns
    client_key, interview_key, band = con.execute(
        "SELECT client_key, interview_key, experience_band FROM records WHERE record_id = 'd-1'"
    ).fetchone()
    firm = DEBRIEF["firm_id"]
    assert client_key == pseudonym(KEY, firm, "client", DEBRIEF["client_ref"])
    assert interview_key == pseudonym(KEY, firm, "interview", DEBRIEF["interview_ref"])
    assert band == "6-10"


def test_notes_lose_emails_phones_and_given_names(ingested):
    _, con = ingested
    (notes,) = con.execute("SELECT notes FROM records WHERE record_id = 'd-1'").fetchone()
    assert "tom@acme.io" not in notes and "555" not in notes and "Tom" not in notes
    assert "[EMAIL]" in notes and "[PHONE]" in notes and "[NAME]" in notes


def test_analysis_finds_the_latest_debrief_and_outcome_per_interview(tmp_path):
    not_asked = {"asked_fit_question": False, "fit_question_kinds": [], "asked_at_pct": None}
    first = debrief(1, interview_ref="int-1", **not_asked, rapport_before_ask=None)
    corrected = debrief(2, interview_ref="int-1", submitted_at="2026-03-03T09:00:00Z")
    rejected = {**OUTCOME, "record_id": "o-1", "interview_ref": "int-1", "outcome": "rejected"}
    offer = {**rejected, "record_id": "o-2", "outcome": "offer"}
    offer["decided_at"] = "2026-03-25T09:00:00Z"
    path = write_jsonl(tmp_path / "b.jsonl", [corrected, offer, first, rejected])
    database = tmp_path / "pandas.duckdb"
    bench_pandas.ingest([path], database, KEY)
    effects = bench_pandas.analyse(database)
    row = effects[(effects.tactic == "asked_fit_question") & (effects.segment == "all")].iloc[0]
    # One interview: the correction (asked, written before the outcome) and the later outcome
    # (offer: advanced) count, nothing else; one arm only, so no difference.
    assert (row.n_with, row.n_without, row.crude_diff) == (1, 0, None)


def test_analysis_ignores_a_correction_written_after_the_outcome(tmp_path):
    not_asked = {"asked_fit_question": False, "fit_question_kinds": [], "asked_at_pct": None}
    first = debrief(1, interview_ref="int-1", **not_asked, rapport_before_ask=None)
    hindsight = debrief(2, interview_ref="int-1", submitted_at="2026-03-28T09:00:00Z")
    offer = {**OUTCOME, "record_id": "o-1", "interview_ref": "int-1", "outcome": "offer"}
    path = write_jsonl(tmp_path / "b.jsonl", [first, offer, hindsight])
    database = tmp_path / "pandas.duckdb"
    bench_pandas.ingest([path], database, KEY)
    effects = bench_pandas.analyse(database)
    row = effects[(effects.tactic == "asked_fit_question") & (effects.segment == "all")].iloc[0]
    assert (row.n_with, row.n_without) == (0, 1)
