"""Descriptive rates on rounds and applications, with intervals that know clients have many
rounds: pure transforms of a view's rounds (``view_rounds`` of its ``fct_interviews`` rows,
prepared once for all its tables) -> DataFrame.

The unit is the pipeline's own (``pipelines.insights.rounds``): a round advanced (offer or next
round) or did not (rejected, no response); withdrawn and pending rounds, and rounds debriefed only
after the outcome, are counted but left out of the rates. An application is closed when it ended in
an offer or a round that did not advance, and was not withdrawn; interviews sent without an
application reference are applications of their own.

Intervals: Wilson, on the *effective* sample size n / deff, where the design effect deff is the
client-clustered variance of the rate over the simple binomial one (Kish; floored at 1). A
client whose rounds all went the same way counts for less than as many independent rounds;
when every client has one round the interval is the plain Wilson one. These rates are crude:
they describe, they do not compare causes.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.insights.effects import MIN_PER_ARM, dense_codes
from pipelines.insights.marts import rapport_group, timing_group
from pipelines.insights.rounds import rounds
from pipelines.insights.stats import wilson_ci

LAST_ROUND = 6  # rounds from here on share a row ("6+")
RATE_SCHEMA = {
    "n": pl.Int64,
    "successes": pl.Int64,
    "clients": pl.Int64,
    "rate": pl.Float64,
    "rate_ci_low": pl.Float64,
    "rate_ci_high": pl.Float64,
    "design_effect": pl.Float64,
    "enough_data": pl.Boolean,
}


def clustered_wilson(y, clusters) -> dict:
    """Rate of the 0/1 array ``y`` with a Wilson interval on the effective sample size (see the
    module docstring) -> dict with n, successes, clients, rate, rate_ci_low, rate_ci_high,
    design_effect."""
    y = np.asarray(y, dtype=float)
    n = y.size
    codes = np.unique(np.asarray(clusters), return_inverse=True)[1] if n else np.array([], int)
    out = {"n": n, "successes": int(y.sum()), "clients": int(codes.max() + 1) if n else 0}
    if n == 0:
        return out | {
            "rate": None,
            "rate_ci_low": None,
            "rate_ci_high": None,
            "design_effect": None,
        }
    p = y.mean()
    # Each client's residual sum from its counts (exact), not summed row by row: the same
    # bits whatever order the rows come in.
    residuals = np.bincount(codes, weights=y) - np.bincount(codes) * p
    clustered = (residuals**2).sum() / n**2
    simple = p * (1 - p) / n
    deff = max(1.0, clustered / simple) if simple > 0 else 1.0
    low, high = wilson_ci(p * n / deff, n / deff)
    return out | {
        "rate": float(p),
        "rate_ci_low": float(low),
        "rate_ci_high": float(high),
        "design_effect": float(deff),
    }


def _rates(frame: pl.DataFrame, by: list[str], outcome: str) -> pl.DataFrame:
    """One row per group of ``by``: the clustered-Wilson rate of ``outcome`` (rows where it is
    null are left out); the rate only with at least MIN_PER_ARM rows."""
    rows = []
    usable = frame.filter(pl.col(outcome).is_not_null())
    for key, group in usable.group_by(by, maintain_order=True):
        stats = clustered_wilson(
            group.get_column(outcome).cast(pl.Float64).to_numpy(),
            group.get_column("client").to_numpy(),
        )
        enough = stats["n"] >= MIN_PER_ARM
        if not enough:
            stats |= {"rate": None, "rate_ci_low": None, "rate_ci_high": None}
        rows.append(dict(zip(by, key, strict=True)) | stats | {"enough_data": enough})
    schema = {c: frame.schema[c] for c in by} | RATE_SCHEMA
    return pl.DataFrame(rows, schema=schema).sort(by)


# What the tables read of a round: selecting these lets Polars skip the rest of
# ``rounds`` (the label groups, half its time).
ROUND_COLUMNS = (
    "firm_id",
    "application_key",
    "seniority",
    "outcome",
    "round_number",
    "round_status",
    "advanced",
    "is_advance_inferred",
    "self_rating",
    "asked_fit_question",
    "asked_at_pct",
    "rapport_before_ask",
)


def view_rounds(fct: pl.LazyFrame) -> pl.DataFrame:
    """What the tables read of the interviews' rounds, with ``client``: clients as integers
    in the order of their names, the codes ``clustered_wilson`` gives the names (so the same
    figures), without sorting a million Python strings per group."""
    client = pl.concat_str("firm_id", "client_key", separator="/").alias("client")
    frame = rounds(fct).select(*ROUND_COLUMNS, client).collect()
    return frame.with_columns(pl.Series("client", dense_codes(frame, "client")))


def pass_through(frame: pl.DataFrame) -> pl.DataFrame:
    """Per round number (6 and later together): rounds, how they ended, and the share that got
    past the round among those decided by the employer, with its interval."""
    frame = frame.with_columns(
        pl.col("round_number").clip(upper_bound=LAST_ROUND).alias("round_number")
    )
    counts = frame.group_by("round_number").agg(
        pl.len().cast(pl.Int64).alias("rounds"),
        *(
            (pl.col("round_status") == s).sum().cast(pl.Int64).alias(name)
            for s, name in (
                ("withdrawn", "withdrawn"),
                ("pending", "pending"),
                ("debrief_after_outcome", "debriefed_after_outcome"),
            )
        ),
        pl.col("is_advance_inferred").sum().cast(pl.Int64).alias("advances_inferred"),
    )
    rates = _rates(frame, ["round_number"], "advanced").rename(
        {
            "n": "decided",
            "successes": "advanced",
            "rate": "pass_through",
            "rate_ci_low": "pass_through_ci_low",
            "rate_ci_high": "pass_through_ci_high",
        }
    )
    return (
        counts.join(rates, on="round_number", how="left")
        .with_columns(
            pl.col("decided", "advanced", "clients").fill_null(0),
            pl.col("enough_data").fill_null(False),
            pl.when(pl.col("round_number") >= LAST_ROUND)
            .then(pl.lit(f"{LAST_ROUND}+"))
            .otherwise(pl.col("round_number").cast(pl.String))
            .alias("round"),
        )
        .sort("round_number")
        .select(
            "round",
            "round_number",
            "rounds",
            "decided",
            "advanced",
            "pass_through",
            "pass_through_ci_low",
            "pass_through_ci_high",
            "withdrawn",
            "pending",
            "debriefed_after_outcome",
            "advances_inferred",
            "clients",
            "design_effect",
            "enough_data",
        )
    )


def applications(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per application: its rounds, how far it got, and whether it is closed (ended in
    an offer or a round that did not advance, not withdrawn) and ended in an offer."""
    status = pl.col("round_status")
    return (
        frame.group_by("firm_id", "application_key")
        .agg(
            pl.col("client").first(),
            pl.col("seniority").sort_by("round_number").first(),
            pl.col("round_number").max().alias("rounds_reached"),
            (pl.col("outcome") == "offer").any().alias("offer"),
            (status == "not_advanced").any().alias("lost"),
            (status == "withdrawn").any().alias("withdrawn"),
        )
        .with_columns(
            ((pl.col("offer") | pl.col("lost")) & ~pl.col("withdrawn")).alias("is_closed"),
        )
    )


def offer_rate_per_application(frame: pl.DataFrame, by: str | None = None) -> pl.DataFrame:
    """Offer rate of closed applications (overall, or per ``by``: "seniority" of the first
    round, "rounds_reached"), with its interval; open and withdrawn applications counted."""
    apps = applications(frame)
    keys = [by] if by else []
    if not by:
        apps = apps.with_columns(pl.lit("all").alias("applications_of"))
        keys = ["applications_of"]
    counts = apps.group_by(keys).agg(
        pl.len().cast(pl.Int64).alias("applications"),
        pl.col("withdrawn").sum().cast(pl.Int64).alias("withdrawn"),
        (~pl.col("is_closed") & ~pl.col("withdrawn")).sum().cast(pl.Int64).alias("open"),
    )
    closed = apps.filter(pl.col("is_closed")).with_columns(pl.col("offer").alias("_y"))
    rates = _rates(closed, keys, "_y").rename(
        {
            "n": "closed",
            "successes": "offers",
            "rate": "offer_rate",
            "rate_ci_low": "offer_rate_ci_low",
            "rate_ci_high": "offer_rate_ci_high",
        }
    )
    return (
        counts.join(rates, on=keys, how="left")
        .with_columns(
            pl.col("closed", "offers", "clients").fill_null(0),
            pl.col("enough_data").fill_null(False),
        )
        .sort(keys)
        .select(
            *keys,
            "applications",
            "closed",
            "offers",
            "offer_rate",
            "offer_rate_ci_low",
            "offer_rate_ci_high",
            "withdrawn",
            "open",
            "clients",
            "design_effect",
            "enough_data",
        )
    )


def _advance_by(frame: pl.DataFrame, group: pl.Expr, name: str) -> pl.DataFrame:
    frame = frame.with_columns(group.alias(name))
    return _rates(frame, [name], "advanced").rename(
        {
            "n": "rounds",
            "successes": "advanced",
            "rate": "advance_rate",
            "rate_ci_low": "advance_rate_ci_low",
            "rate_ci_high": "advance_rate_ci_high",
        }
    )


def advance_by_timing(frame: pl.DataFrame) -> pl.DataFrame:
    """Pass-through by when the fit question was asked (the pipeline's bins), or not asked."""
    return _advance_by(frame, timing_group(), "timing_bin")


def advance_by_rapport(frame: pl.DataFrame) -> pl.DataFrame:
    """Pass-through by rapport before asking (1-5; 0 = did not ask)."""
    return _advance_by(frame, rapport_group(), "rapport_before_ask")


def advance_by_self_rating(frame: pl.DataFrame) -> pl.DataFrame:
    """Pass-through by the client's own rating of the round (1-5): the raw calibration table."""
    return _advance_by(frame, pl.col("self_rating"), "self_rating")


VIEWS = {
    "pass_through": pass_through,
    "offer_rate_per_application": offer_rate_per_application,
    "offer_rate_per_application_by_seniority": lambda frame: offer_rate_per_application(
        frame, "seniority"
    ),
    "advance_by_timing": advance_by_timing,
    "advance_by_rapport": advance_by_rapport,
    "advance_by_self_rating": advance_by_self_rating,
}
