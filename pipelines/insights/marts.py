"""The marts: pure transforms of `fct_interviews` (LazyFrame -> LazyFrame).

The estimates (`tactic_estimates`, `hypothesis_tests`) live in `pipelines.insights.effects`; here
are the descriptive tables. Every rate carries a Wilson 95% interval; a cell with fewer than
MIN_PER_ARM interviews keeps its counts but shows no rate or interval (`enough_data` false) — "not
enough data", not noise. Only decided interviews count towards offer rates (pending ones have no
outcome yet). These descriptive rates are crude: they compare groups, not causes.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.insights.effects import (
    MIN_PER_ARM,
    ROUND_MARTS,
    TACTICS,
    hypothesis_tests,
    tactic_estimates,
)
from pipelines.insights.rounds import industry_groups, rounds_by_status, tactic_flag
from pipelines.insights.stats import newcombe_diff_ci, wilson_ci

# Bins of asked_at_pct: the advice under test is "about three-quarters in" (70-80).
TIMING_BINS = ((0, 39, "0-39"), (40, 69, "40-69"), (70, 80, "70-80"), (81, 100, "81-100"))
NOT_ASKED = "not asked"

_CI = pl.Struct({"lo": pl.Float64, "hi": pl.Float64})


def _wilson(successes: str, n: str) -> pl.Expr:
    def interval(s: pl.Series) -> pl.Series:
        x = s.struct.field("x").to_numpy().astype(float)
        m = s.struct.field("n").to_numpy().astype(float)
        lo, hi = wilson_ci(x, m)
        return pl.DataFrame({"lo": np.asarray(lo, float), "hi": np.asarray(hi, float)}).to_struct()

    return pl.struct(x=pl.col(successes), n=pl.col(n)).map_batches(interval, return_dtype=_CI)


def with_rate(lf: pl.LazyFrame, successes: str, n: str, name: str) -> pl.LazyFrame:
    """Add `<name>`, `<name>_ci_low`, `<name>_ci_high`; null when n < MIN_PER_ARM."""
    enough = pl.col(n) >= MIN_PER_ARM
    ci = _wilson(successes, n)
    return lf.with_columns(
        pl.when(enough).then(pl.col(successes) / pl.col(n)).alias(name),
        pl.when(enough).then(ci.struct.field("lo")).alias(f"{name}_ci_low"),
        pl.when(enough).then(ci.struct.field("hi")).alias(f"{name}_ci_high"),
    )


def _decided(fct: pl.LazyFrame) -> pl.LazyFrame:
    return fct.filter(pl.col("is_decided"))


def _offer_counts(lf: pl.LazyFrame, *keys: str) -> pl.LazyFrame:
    return (
        lf.group_by(*keys)
        .agg(pl.len().alias("n"), pl.col("got_offer").sum().alias("offers"))
        .with_columns(pl.col("n").cast(pl.Int64), pl.col("offers").cast(pl.Int64))
        .pipe(with_rate, "offers", "n", "offer_rate")
        .with_columns((pl.col("n") >= MIN_PER_ARM).alias("enough_data"))
        .sort(*keys)
    )


def _timing_bin(pct: pl.Expr) -> pl.Expr:
    expr = pl.lit(NOT_ASKED)
    for low, high, label in reversed(TIMING_BINS):
        expr = pl.when(pct.is_between(low, high)).then(pl.lit(label)).otherwise(expr)
    return expr


def timing_group() -> pl.Expr:
    """``timing_bin``: the asked_at_pct bin, or "not asked"."""
    return (
        pl.when(pl.col("asked_fit_question"))
        .then(_timing_bin(pl.col("asked_at_pct")))
        .otherwise(pl.lit(NOT_ASKED))
        .alias("timing_bin")
    )


def rapport_group() -> pl.Expr:
    """``rapport_before_ask`` (1-5), with 0 = did not ask."""
    return (
        pl.when(pl.col("asked_fit_question"))
        .then(pl.col("rapport_before_ask"))
        .otherwise(0)
        .cast(pl.Int32)
        .alias("rapport_before_ask")
    )


def offer_rate_by_timing(fct: pl.LazyFrame) -> pl.LazyFrame:
    """Offer rate by when the fit question was asked, next to never asking."""
    order = {label: i for i, (_, _, label) in enumerate(TIMING_BINS)} | {NOT_ASKED: -1}
    return (
        _decided(fct)
        .with_columns(timing_group())
        .pipe(_offer_counts, "timing_bin")
        .with_columns(pl.col("timing_bin").replace_strict(order).alias("bin_order"))
        .sort("bin_order")
    )


def offer_rate_by_rapport(fct: pl.LazyFrame) -> pl.LazyFrame:
    """Offer rate by rapport before asking (1-5), with 0 = did not ask."""
    return _decided(fct).with_columns(rapport_group()).pipe(_offer_counts, "rapport_before_ask")


def concern_rows(fct: pl.LazyFrame) -> pl.LazyFrame:
    """Decided interviews with objections, one row per concern raised (column ``concern``)."""
    return (
        _decided(fct)
        .filter(pl.col("concerns_raised").list.len() > 0)
        .explode("concerns_raised")
        .rename({"concerns_raised": "concern"})
    )


def objections(fct: pl.LazyFrame) -> pl.LazyFrame:
    """Per concern category: addressed or not, and what happened next ("not game over")."""
    return (
        concern_rows(fct)
        .group_by("concern", "concerns_addressed")
        .agg(
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("got_offer").sum().cast(pl.Int64).alias("offers"),
            (pl.col("outcome") == "next_round").sum().cast(pl.Int64).alias("next_rounds"),
            (pl.col("outcome") == "rejected").sum().cast(pl.Int64).alias("rejections"),
        )
        .with_columns((pl.col("offers") + pl.col("next_rounds")).alias("advanced"))
        .pipe(with_rate, "offers", "n", "offer_rate")
        .pipe(with_rate, "advanced", "n", "advance_rate")
        .with_columns((pl.col("n") >= MIN_PER_ARM).alias("enough_data"))
        .sort("concern", "concerns_addressed")
    )


def perception_gap(fct: pl.LazyFrame) -> pl.LazyFrame:
    """Offer rate by the client's own rating of how it went: does the feeling predict anything?"""
    return _decided(fct).pipe(_offer_counts, "self_rating")


def warm_prospects(fct: pl.LazyFrame) -> pl.LazyFrame:
    """Referral rate among decided non-offers, with and without each tactic."""
    non_offers = _decided(fct).filter(~pl.col("got_offer"))
    referred = pl.col("got_referral")
    wide = pl.concat(
        [
            non_offers.select(
                pl.lit(tactic).alias("tactic"),
                flag.eq(True).sum().cast(pl.Int64).alias("n_with"),
                flag.eq(False).sum().cast(pl.Int64).alias("n_without"),
                (flag.eq(True) & referred).sum().cast(pl.Int64).alias("referrals_with"),
                (flag.eq(False) & referred).sum().cast(pl.Int64).alias("referrals_without"),
            )
            for tactic, flag in ((t, tactic_flag(t)) for t in TACTICS)
        ]
    )
    enough = (pl.col("n_with") >= MIN_PER_ARM) & (pl.col("n_without") >= MIN_PER_ARM)
    return (
        wide.pipe(with_rate, "referrals_with", "n_with", "referral_rate_with")
        .pipe(with_rate, "referrals_without", "n_without", "referral_rate_without")
        .with_columns(enough.alias("enough_data"))
        .pipe(_with_newcombe, "referrals_with", "n_with", "referrals_without", "n_without")
        .select(
            "tactic",
            "n_with",
            "n_without",
            "referrals_with",
            "referrals_without",
            "referral_rate_with",
            "referral_rate_with_ci_low",
            "referral_rate_with_ci_high",
            "referral_rate_without",
            "referral_rate_without_ci_low",
            "referral_rate_without_ci_high",
            "diff",
            "diff_ci_low",
            "diff_ci_high",
            "enough_data",
        )
        .sort("tactic")
    )


def _with_newcombe(lf: pl.LazyFrame, x1: str, n1: str, x2: str, n2: str) -> pl.LazyFrame:
    out = pl.Struct({"d": pl.Float64, "lo": pl.Float64, "hi": pl.Float64})

    def interval(s: pl.Series) -> pl.Series:
        arrays = [s.struct.field(k).to_numpy().astype(float) for k in ("x1", "n1", "x2", "n2")]
        d, lo, hi = newcombe_diff_ci(*arrays)
        return pl.DataFrame(
            {"d": np.asarray(d, float), "lo": np.asarray(lo, float), "hi": np.asarray(hi, float)}
        ).to_struct()

    ci = pl.struct(x1=x1, n1=n1, x2=x2, n2=n2).map_batches(interval, return_dtype=out)
    enough = pl.col("enough_data")
    return lf.with_columns(
        pl.when(enough).then(ci.struct.field("d")).alias("diff"),
        pl.when(enough).then(ci.struct.field("lo")).alias("diff_ci_low"),
        pl.when(enough).then(ci.struct.field("hi")).alias("diff_ci_high"),
    )


def funnel_by_stage(fct: pl.LazyFrame) -> pl.LazyFrame:
    """Per stage: interviews, how many are decided, and how they ended."""
    from pipelines.core.spec import STAGES

    order = {s: i for i, s in enumerate(STAGES)}
    outcome_counts = [
        (pl.col("outcome") == outcome).sum().cast(pl.Int64).alias(name)
        for outcome, name in (
            ("offer", "offers"),
            ("next_round", "next_rounds"),
            ("rejected", "rejections"),
            ("withdrawn", "withdrawals"),
            ("no_response", "no_responses"),
        )
    ]
    return (
        fct.group_by("stage")
        .agg(
            pl.len().cast(pl.Int64).alias("interviews"),
            pl.col("is_decided").sum().cast(pl.Int64).alias("decided"),
            *outcome_counts,
        )
        .with_columns(
            (pl.col("interviews") - pl.col("decided")).alias("pending"),
            (pl.col("offers") + pl.col("next_rounds")).alias("advanced"),
        )
        .pipe(with_rate, "offers", "decided", "offer_rate")
        .pipe(with_rate, "advanced", "decided", "advance_rate")
        .with_columns(
            (pl.col("decided") >= MIN_PER_ARM).alias("enough_data"),
            pl.col("stage").replace_strict(order, default=len(order)).alias("stage_order"),
        )
        .sort("stage_order")
    )


def trends_by_month(fct: pl.LazyFrame) -> pl.LazyFrame:
    """Month by month (interview date): volume, how often the question is asked, offer rate."""
    return (
        fct.with_columns(pl.col("interview_date").dt.truncate("1mo").alias("month"))
        .group_by("month")
        .agg(
            pl.len().cast(pl.Int64).alias("interviews"),
            pl.col("asked_fit_question").sum().cast(pl.Int64).alias("asked"),
            pl.col("is_decided").sum().cast(pl.Int64).alias("decided"),
            pl.col("got_offer").sum().cast(pl.Int64).alias("offers"),
        )
        .pipe(with_rate, "asked", "interviews", "ask_rate")
        .pipe(with_rate, "offers", "decided", "offer_rate")
        .with_columns((pl.col("decided") >= MIN_PER_ARM).alias("enough_data"))
        .sort("month")
    )


MARTS = {
    "tactic_estimates": tactic_estimates,
    "hypothesis_tests": hypothesis_tests,
    "offer_rate_by_timing": offer_rate_by_timing,
    "offer_rate_by_rapport": offer_rate_by_rapport,
    "objections": objections,
    "perception_gap": perception_gap,
    "warm_prospects": warm_prospects,
    "funnel_by_stage": funnel_by_stage,
    "trends_by_month": trends_by_month,
    "industry_groups": industry_groups,
    "rounds_by_status": rounds_by_status,
}


def descriptive_marts(fct: pl.DataFrame | pl.LazyFrame) -> dict[str, pl.DataFrame]:
    """Every mart of ``MARTS`` but those of the rounds (``effects.round_marts``), in one
    Polars query plan on the streaming engine: they share the scan of ``fct``, read in
    batches (the rounds' numbering is a window over applications, which would hold them all)."""
    names = [name for name in MARTS if name not in ROUND_MARTS]
    lazy = fct.lazy()
    frames = pl.collect_all([MARTS[name](lazy) for name in names], engine="streaming")
    return dict(zip(names, frames, strict=True))
