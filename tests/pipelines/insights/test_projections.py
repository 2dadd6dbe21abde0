"""Projections as pure transforms: corrections, late debriefs, superseding outcomes, erasures."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from pipelines.core.events import events_from_records
from pipelines.insights import projections as P
from pipelines.landing.records import RAW_SCHEMA, typed_records
from tests.samples import DEBRIEF, ERASURE, OUTCOME


def event_log(records: list[dict]) -> pl.LazyFrame:
    """Records in log order -> an event frame as EventStore.read_frame returns it (pseudonyms
    are the raw refs here: anonymisation is not under test)."""
    raw = pl.DataFrame(
        [
            {
                **{k: None for k in RAW_SCHEMA},
                **{k: _text(v) for k, v in r.items()},
                "source_line": i + 1,
                "parse_errors": [],
            }
            for i, r in enumerate(records)
        ],
        schema=RAW_SCHEMA,
    )
    typed = typed_records(raw.lazy()).collect()
    anon = typed.with_columns(
        pl.col("client_ref").alias("client_key"),
        pl.col("interview_ref").alias("interview_key"),
        pl.col("application_ref").alias("application_key"),
        pl.lit("6-10").alias("experience_band"),
    )
    events = events_from_records(anon.lazy(), "f.jsonl").collect()
    return (
        events.with_row_index("position", offset=1)
        .with_columns(pl.col("position").cast(pl.Int64))
        .lazy()
    )


def _text(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ";".join(v)
    return str(v)


def build(records):
    events = event_log(records)
    interviews = P.int_interviews(P.stg_debriefs(events), P.stg_outcomes(events))
    return interviews.collect(), P.fct_interviews(interviews, P.stg_erasures(events)).collect()


def test_latest_debrief_wins_by_submitted_at_not_arrival():
    correction = dict(DEBRIEF, record_id="d-2", submitted_at="2026-03-03T10:00:00Z", self_rating=5)
    # The correction arrives first; the original arrives later but is older.
    interviews, fct = build([correction, DEBRIEF])
    row = interviews.row(0, named=True)
    assert row["self_rating"] == 5 and row["debrief_versions"] == 2
    assert fct["self_rating"].to_list() == [5]


def test_outcome_before_debrief_then_debrief_joins_it():
    interviews, fct = build([OUTCOME])
    assert interviews["has_debrief"].to_list() == [False]
    assert fct.height == 0  # nothing to analyse without the debrief
    interviews, fct = build([OUTCOME, DEBRIEF])
    assert fct.select("is_decided", "got_offer", "outcome").row(0) == (True, True, "offer")


def test_later_outcome_supersedes_next_round():
    next_round = dict(
        OUTCOME, record_id="o-0", outcome="next_round", decided_at="2026-03-10T09:00:00Z"
    )
    _, fct = build([DEBRIEF, OUTCOME, next_round])  # arrival order scrambled on purpose
    assert fct.row(0, named=True)["outcome"] == "offer"
    assert fct.row(0, named=True)["decided_at"] == datetime(2026, 3, 20, 9, tzinfo=UTC)


def test_pending_interview_is_undecided_without_offer():
    _, fct = build([DEBRIEF])
    assert fct.select("is_decided", "got_offer", "got_referral", "outcome").row(0) == (
        False,
        False,
        False,
        None,
    )


def test_erased_client_disappears_from_fct_other_clients_stay():
    other = dict(DEBRIEF, record_id="d-9", client_ref="someone-else", interview_ref="int-9")
    _, fct = build([DEBRIEF, OUTCOME, other, ERASURE])
    assert fct["client_key"].to_list() == ["someone-else"]


def test_referral_counts_only_with_an_outcome():
    referred = dict(OUTCOME, outcome="rejected", referral=True)
    _, fct = build([DEBRIEF, referred])
    assert fct.select("got_offer", "got_referral").row(0) == (False, True)


def test_correction_written_after_the_outcome_does_not_count():
    # The outcome was known on 2026-03-20; a correction of 2026-03-25 "remembers" asking.
    hindsight = dict(
        DEBRIEF,
        record_id="d-2",
        submitted_at="2026-03-25T10:00:00Z",
        fit_question_kinds=["concerns", "comparison"],
        self_rating=5,
    )
    _, fct = build([hindsight, OUTCOME, DEBRIEF])
    row = fct.row(0, named=True)
    assert row["fit_question_kinds"] == DEBRIEF["fit_question_kinds"]
    assert row["self_rating"] == DEBRIEF["self_rating"]
    assert (row["debrief_versions"], row["versions_after_outcome"]) == (2, 1)
    assert row["is_debrief_after_outcome"] is False


def test_a_correction_before_the_outcome_still_counts():
    early = dict(DEBRIEF, record_id="d-2", submitted_at="2026-03-04T10:00:00Z", self_rating=5)
    _, fct = build([DEBRIEF, early, OUTCOME])
    assert fct.select("self_rating", "versions_after_outcome").row(0) == (5, 0)


def test_first_outcome_not_the_latest_marks_the_hindsight_line():
    next_round = dict(
        OUTCOME, record_id="o-0", outcome="next_round", decided_at="2026-03-10T09:00:00Z"
    )
    between = dict(DEBRIEF, record_id="d-2", submitted_at="2026-03-12T10:00:00Z", self_rating=5)
    _, fct = build([DEBRIEF, next_round, between, OUTCOME])
    assert fct.select("self_rating", "versions_after_outcome", "outcome").row(0) == (
        3,
        1,
        "offer",
    )


def test_only_debriefs_after_the_outcome_flag_the_interview():
    late = dict(DEBRIEF, submitted_at="2026-03-21T10:00:00Z", self_rating=4)
    later = dict(DEBRIEF, record_id="d-2", submitted_at="2026-03-30T10:00:00Z", self_rating=5)
    _, fct = build([OUTCOME, later, late])
    assert fct.select("self_rating", "is_debrief_after_outcome").row(0) == (4, True)


def test_application_key_falls_back_to_the_interview():
    _, fct = build([DEBRIEF])
    assert fct.select("application_key", "has_application_ref", "round").row(0) == (
        DEBRIEF["interview_ref"],
        False,
        None,
    )
    _, fct = build([dict(DEBRIEF, application_ref="app-1", round=2)])
    assert fct.select("application_key", "has_application_ref", "round").row(0) == (
        "app-1",
        True,
        2,
    )


def test_application_key_of_an_outcome_reaches_the_interview():
    interviews, _ = build([dict(OUTCOME, application_ref="app-1")])
    assert interviews["application_key"].to_list() == ["app-1"]
