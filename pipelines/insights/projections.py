"""Projections of the event log: pure Polars transforms, LazyFrame -> LazyFrame.

Layers follow dbt's convention:

- staging (`stg_*`): one row per event, the payload decoded into typed columns;
- intermediate (`int_interviews`): one row per interview, corrections and superseding outcomes
  resolved — the latest outcome by `decided_at`, and the latest debrief submitted at or before
  the interview's first outcome (a correction written once the outcome was known may be
  coloured by hindsight: it stays in the log and is counted, but does not count); ties broken by
  log position, so the order files arrive in never changes the answer;
- marts (`fct_interviews`): interviews with a debrief, of clients who have not asked to be
  erased, with the flags analyses need.
"""

from __future__ import annotations

import polars as pl

from pipelines.core import spec
from pipelines.core.events import (
    DEBRIEF_SUBMITTED,
    ERASURE_REQUESTED,
    OUTCOME_RECORDED,
    PAYLOAD_FIELDS,
)

UTC_TS = pl.Datetime("us", "UTC")

_PAYLOAD_DTYPES = {
    "int": pl.Int64,
    "bool": pl.Boolean,
    "list": pl.List(pl.String),
}


def payload_struct(event_type: str) -> pl.Struct:
    """The JSON shape of an event type's payload (timestamps and dates are ISO text there)."""
    return pl.Struct(
        {
            f: _PAYLOAD_DTYPES.get(spec.FIELD_KINDS.get(f, "str"), pl.String)
            for f in PAYLOAD_FIELDS[event_type]
        }
    )


DEBRIEF_PAYLOAD = payload_struct(DEBRIEF_SUBMITTED)
OUTCOME_PAYLOAD = payload_struct(OUTCOME_RECORDED)
ERASURE_PAYLOAD = payload_struct(ERASURE_REQUESTED)
# What fct_interviews keeps of a debrief: everything but the free text and the submission time.
FCT_DEBRIEF_COLUMNS = [
    c
    for c in PAYLOAD_FIELDS[DEBRIEF_SUBMITTED]
    if c not in ("notes", "submitted_at", "duration_min")
]


def _timestamp(col: str) -> pl.Expr:
    return pl.col(col).str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_zone="UTC", time_unit="us")


PAYLOADS = {
    DEBRIEF_SUBMITTED: DEBRIEF_PAYLOAD,
    OUTCOME_RECORDED: OUTCOME_PAYLOAD,
    ERASURE_REQUESTED: ERASURE_PAYLOAD,
}


def _decoded(events: pl.LazyFrame, event_type: str, payload: pl.Struct) -> pl.LazyFrame:
    """Events of one type with their payload fields as columns. The payload is JSON text as
    stored, or a struct already decoded by the store (`EventStore.read_payloads`)."""
    is_decoded = isinstance(events.collect_schema()["payload"], pl.Struct)
    decoded = pl.col("payload") if is_decoded else pl.col("payload").str.json_decode(payload)
    return events.filter(pl.col("event_type") == event_type).select(
        "position", "firm_id", decoded.struct.field(*payload.to_schema())
    )


def stg_debriefs(events: pl.LazyFrame) -> pl.LazyFrame:
    return _decoded(events, DEBRIEF_SUBMITTED, DEBRIEF_PAYLOAD).with_columns(
        _timestamp("submitted_at"),
        pl.col("interview_date").str.to_date("%Y-%m-%d"),
        pl.col("stage").cast(pl.String),
        pl.col("duration_min").cast(pl.Int32),
        pl.col("asked_at_pct").cast(pl.Int32),
        pl.col("rapport_before_ask").cast(pl.Int32),
        pl.col("self_rating").cast(pl.Int32),
        pl.col("round").cast(pl.Int32),
    )


def stg_outcomes(events: pl.LazyFrame) -> pl.LazyFrame:
    return _decoded(events, OUTCOME_RECORDED, OUTCOME_PAYLOAD).with_columns(
        _timestamp("decided_at")
    )


def stg_erasures(events: pl.LazyFrame) -> pl.LazyFrame:
    return _decoded(events, ERASURE_REQUESTED, ERASURE_PAYLOAD).with_columns(
        _timestamp("requested_at")
    )


def _latest(frame: pl.LazyFrame, *by: str) -> pl.LazyFrame:
    """The row of each interview that is last by `by`, ties broken by log position.

    Only the keys are sorted and grouped, then those rows taken: sorting and grouping every
    column (notes, lists) cost five times as much at a million debriefs.
    """
    indexed = frame.with_row_index("_row")
    latest = (
        indexed.select("_row", "firm_id", "interview_key", *by, "position")
        .sort(*by, "position")
        .group_by("firm_id", "interview_key")
        .agg(pl.col("_row").last())
    )
    return indexed.join(latest, on=["_row"], how="semi").drop("_row")


def _debrief_in_use(debriefs: pl.LazyFrame, first_outcomes: pl.LazyFrame) -> pl.LazyFrame:
    """Per interview, the debrief version whose answers count: the latest one submitted at or
    before the first outcome was known; when every version came later, the earliest of them
    (its interview is then flagged and left out of the estimates)."""
    keys = ["firm_id", "interview_key"]
    versions = debriefs.join(first_outcomes, on=keys, how="left").with_columns(
        (
            pl.col("first_decided_at").is_null()
            | (pl.col("submitted_at") <= pl.col("first_decided_at"))
        ).alias("_before_outcome")
    )
    # Before-outcome versions sort last (latest wins); after-outcome ones by reversed time.
    epoch = pl.col("submitted_at").dt.epoch("us")
    order = pl.when(pl.col("_before_outcome")).then(epoch).otherwise(-epoch).alias("_order")
    counts = versions.group_by(keys).agg(
        pl.len().cast(pl.Int32).alias("debrief_versions"),
        pl.col("_before_outcome").not_().sum().cast(pl.Int32).alias("versions_after_outcome"),
    )
    chosen = _latest(versions.with_columns(order), "_before_outcome", "_order")
    return chosen.join(counts, on=keys, how="left").with_columns(
        pl.col("_before_outcome").not_().alias("is_debrief_after_outcome")
    )


def int_interviews(debriefs: pl.LazyFrame, outcomes: pl.LazyFrame) -> pl.LazyFrame:
    """One row per interview: the debrief version in use (if any) and its current outcome (if
    any)."""
    keys = ["firm_id", "interview_key"]
    first_outcomes = outcomes.group_by(keys).agg(
        pl.col("decided_at").min().alias("first_decided_at")
    )
    debrief = _debrief_in_use(debriefs, first_outcomes).select(
        *keys,
        "client_key",
        pl.col("position").alias("debrief_position"),
        *[c for c in DEBRIEF_PAYLOAD.to_schema() if c not in ("interview_key", "client_key")],
        "debrief_versions",
        "versions_after_outcome",
        "is_debrief_after_outcome",
    )
    latest_outcome = _latest(outcomes, "decided_at").select(
        *keys,
        pl.col("client_key").alias("outcome_client_key"),
        pl.col("application_key").alias("outcome_application_key"),
        pl.col("position").alias("outcome_position"),
        "decided_at",
        "outcome",
        "referral",
    )
    return (
        debrief.join(latest_outcome, on=keys, how="full", coalesce=True)
        .join(first_outcomes, on=keys, how="left")
        .with_columns(
            pl.coalesce("client_key", "outcome_client_key").alias("client_key"),
            pl.coalesce("application_key", "outcome_application_key").alias("application_key"),
            pl.col("debrief_versions").fill_null(0),
            pl.col("versions_after_outcome").fill_null(0),
            pl.col("debrief_position").is_not_null().alias("has_debrief"),
            pl.col("outcome_position").is_not_null().alias("has_outcome"),
        )
        .drop("outcome_client_key", "outcome_application_key")
    )


def fct_interviews(interviews: pl.LazyFrame, erasures: pl.LazyFrame) -> pl.LazyFrame:
    """Analysable interviews: a debrief exists and the client has not asked to be forgotten."""
    erased = erasures.select("firm_id", "client_key").unique()
    return (
        interviews.filter(pl.col("has_debrief"))
        .join(erased, on=["firm_id", "client_key"], how="anti")
        .select(
            "interview_key",
            "firm_id",
            "client_key",
            # Revision 1.0: without an application_ref the interview is an application of its own.
            pl.coalesce("application_key", "interview_key").alias("application_key"),
            pl.col("application_key").is_not_null().alias("has_application_ref"),
            *[
                c
                for c in FCT_DEBRIEF_COLUMNS
                if c not in ("interview_key", "client_key", "application_key")
            ],
            "outcome",
            pl.col("has_outcome").alias("is_decided"),
            (pl.col("outcome") == "offer").fill_null(False).alias("got_offer"),
            (pl.col("referral").fill_null(False) & pl.col("has_outcome")).alias("got_referral"),
            "decided_at",
            "first_decided_at",
            pl.col("concerns_raised").list.len().gt(0).alias("has_concerns_raised"),
            "debrief_versions",
            "versions_after_outcome",
            "is_debrief_after_outcome",
        )
        .sort("firm_id", "interview_date", "interview_key")
    )
