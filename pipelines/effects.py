"""``marts.tactic_effects``: which interview tactics go with more offers, honestly.

``tactic_effects(fct_interviews)`` is a pure Polars transform (LazyFrame in, LazyFrame out; nothing
runs until the result is collected). It returns one row per ``(tactic, segment)``.

Population
    Decided interviews only (``is_decided`` true and ``got_offer`` not null); the outcome is
    ``got_offer``. Pending interviews are left out, not counted as "no offer".

Tactics (treated = "with", control = "without")
    ``asked_fit_question``           asked_fit_question true vs false.
    ``asked_about_concerns``         ``"concerns"`` in fit_question_kinds vs not.
    ``asked_about_ideal_candidate``  ``"ideal_candidate"`` in fit_question_kinds vs not.
    ``asked_how_compare``            ``"comparison"`` in fit_question_kinds vs not.
    ``addressed_concerns``           concerns_addressed true vs false, only among interviews where
                                     concerns_raised is non-empty.

    For the three kind-specific tactics "without" means "did not ask that kind", INCLUDING not
    asking a fit question at all: that is the contrast ``pipelines.generate`` plants in
    ``truth.json`` (kind k switched on/off holding the other kinds as observed, population = all
    decided interviews), so the estimates here are comparable with the planted truth. An
    interview whose kinds are unknown (null list while asked_fit_question is true/null) is left
    out of those three tactics; a null list with asked_fit_question false counts as "asked none".

Segments
    ``all``; ``stage=<stage>`` (every spec stage, plus any other value seen);
    ``seniority=<seniority>`` (likewise); ``firm=<firm_id>`` (every firm in the input).
    ``segment_kind`` is ``all`` / ``stage`` / ``seniority`` / ``firm``. Every tactic has every
    segment, even when a segment has no data (counts 0, ``enough_data`` false).

Estimates per row (arm 1 = with, arm 2 = without; all from ``pipelines.stats``)
    ``rate_with/without`` with Wilson intervals; ``diff`` = crude risk difference with Newcombe's
    hybrid score interval; ``ratio`` = crude risk ratio with the Katz log interval.

    ``adj_diff`` / ``adj_ci_low`` / ``adj_ci_high``: the Mantel-Haenszel risk difference
    (Greenland & Robins 1985) with the Greenland-Robins/Sato variance (Sato 1989), stratified by
    stage x seniority x industry x experience_band — the confounders: savvier (more senior,
    more experienced, later-stage) candidates both ask more and get more offers, which inflates
    the crude difference. Inside a ``stage=`` (``seniority=``) segment the stage (seniority) is
    constant, so the stratification is effectively by the other three. Strata in which one arm
    is empty carry no information about the contrast and get weight 0. The MH estimand is a
    weighted average of the within-stratum effects (weights n_with n_without / N), which equals
    the average effect when the effect is homogeneous across strata.

    ``p_value``: two-sided Wald test of ``adj_diff = 0`` with the same Sato variance, i.e. the
    p-value of the ADJUSTED comparison, consistent with the adjusted interval (p < 0.05 exactly
    when the 95% interval excludes 0). The crude comparison gets intervals but no p-value: it is
    confounded and not what anyone should be testing.

    ``q_value``: Benjamini-Hochberg FDR adjustment of ``p_value`` over EVERY row of the table
    that has enough data (all tactics x all segments; rows with a null p-value do not count).
    Segments overlap (``all`` contains each ``stage=`` row), so the tests are positively
    dependent; BH remains valid under that kind of (PRDS) dependence in the usual practice.

``enough_data`` / ``min_per_arm``
    ``enough_data`` is false when ``n_with`` or ``n_without`` is below ``min_per_arm``
    (default ``MIN_PER_ARM`` = 30); then every estimate column of that row is null ("not enough
    data" is shown instead of noise) and only the counts are kept. Estimates that are not
    estimable despite enough data (e.g. a ratio with no offers without the tactic) are null too,
    never NaN or inf.

Speed: one Polars group-by over the input (one pass, all five tactics as conditional sums per
firm x stratum), then numpy-vectorised estimators over the (few thousand) stratum cells.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines import spec, stats

MIN_PER_ARM = 30

TACTICS = (
    "asked_fit_question",
    "asked_about_concerns",
    "asked_about_ideal_candidate",
    "asked_how_compare",
    "addressed_concerns",
)
KIND_OF_TACTIC = {
    "asked_about_concerns": "concerns",
    "asked_about_ideal_candidate": "ideal_candidate",
    "asked_how_compare": "comparison",
}
STRATA = ("stage", "seniority", "industry", "experience_band")
SEGMENT_KINDS = ("all", "stage", "seniority", "firm")
ALPHA = 0.05

ESTIMATE_COLUMNS = (
    "rate_with",
    "rate_with_ci_low",
    "rate_with_ci_high",
    "rate_without",
    "rate_without_ci_low",
    "rate_without_ci_high",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "ratio",
    "ratio_ci_low",
    "ratio_ci_high",
    "adj_diff",
    "adj_ci_low",
    "adj_ci_high",
    "p_value",
    "q_value",
)
OUTPUT_SCHEMA = pl.Schema(
    {
        "tactic": pl.String,
        "segment": pl.String,
        "segment_kind": pl.String,
        "n_with": pl.Int64,
        "n_without": pl.Int64,
        "offers_with": pl.Int64,
        "offers_without": pl.Int64,
        **{c: pl.Float64 for c in ESTIMATE_COLUMNS},
        "enough_data": pl.Boolean,
    }
)
_COUNTS = ("n1", "x1", "n0", "x0")
# The fct_interviews columns this transform reads, with the types it relies on.
INPUT_COLUMNS = {
    "firm_id": pl.String,
    "stage": pl.String,
    "seniority": pl.String,
    "industry": pl.String,
    "experience_band": pl.String,
    "asked_fit_question": pl.Boolean,
    "fit_question_kinds": pl.List(pl.String),
    "concerns_raised": pl.List(pl.String),
    "concerns_addressed": pl.Boolean,
    "is_decided": pl.Boolean,
    "got_offer": pl.Boolean,
}


def treated(tactic: str) -> pl.Expr:
    """Boolean per interview: true = with, false = without, null = not in this tactic's
    population."""
    if tactic == "asked_fit_question":
        return pl.col("asked_fit_question")
    if tactic == "addressed_concerns":
        raised = pl.col("concerns_raised").list.len() > 0
        return pl.when(raised).then(pl.col("concerns_addressed"))
    kind = KIND_OF_TACTIC[tactic]
    kinds = pl.col("fit_question_kinds")
    return (
        pl.when(kinds.is_not_null())
        .then(kinds.list.contains(pl.lit(kind)))
        .when(pl.col("asked_fit_question").not_())
        .then(pl.lit(False))
    )


def _cell_counts(fct: pl.LazyFrame) -> pl.LazyFrame:
    """One pass: counts per firm x stratum, for every tactic (n1/x1 with, n0/x0 without)."""
    usable = pl.col("is_decided").fill_null(False) & pl.col("got_offer").is_not_null()
    offer = pl.col("got_offer").fill_null(False)
    aggs = []
    for t in TACTICS:
        tr = treated(t)
        with_ = (usable & tr).fill_null(False)
        without = (usable & tr.not_()).fill_null(False)
        aggs += [
            with_.sum().alias(f"{t}__n1"),
            (with_ & offer).sum().alias(f"{t}__x1"),
            without.sum().alias(f"{t}__n0"),
            (without & offer).sum().alias(f"{t}__x0"),
        ]
    typed = fct.select(pl.col(c).cast(t) for c, t in INPUT_COLUMNS.items())
    return typed.group_by("firm_id", *STRATA).agg(aggs)


def _ordered(values: list, preferred: tuple[str, ...]) -> list[str]:
    """Every preferred (spec) value, then any other non-null value seen, sorted."""
    seen = {v for v in values if v is not None}
    return list(preferred) + sorted(seen - set(preferred))


def _estimate(cells: pl.DataFrame, min_per_arm: int) -> pl.DataFrame:
    """From firm x stratum counts to the finished table (eager, small)."""
    keys = ["firm_id", *STRATA]
    long = pl.concat(
        [
            cells.select(
                pl.lit(t).alias("tactic"),
                *keys,
                *[pl.col(f"{t}__{c}").cast(pl.Int64).alias(c) for c in _COUNTS],
            )
            for t in TACTICS
        ]
    )
    pooled = long.group_by("tactic", *STRATA).agg(pl.col(c).sum() for c in _COUNTS)
    parts = [
        pooled.with_columns(segment_kind=pl.lit("all"), segment=pl.lit("all")),
        pooled.filter(pl.col("stage").is_not_null()).with_columns(
            segment_kind=pl.lit("stage"), segment="stage=" + pl.col("stage")
        ),
        pooled.filter(pl.col("seniority").is_not_null()).with_columns(
            segment_kind=pl.lit("seniority"), segment="seniority=" + pl.col("seniority")
        ),
        long.filter(pl.col("firm_id").is_not_null()).with_columns(
            segment_kind=pl.lit("firm"), segment="firm=" + pl.col("firm_id")
        ),
    ]
    strata = pl.concat(
        [p.select("tactic", "segment_kind", "segment", *STRATA, *_COUNTS) for p in parts]
    )

    # Every tactic x segment, in a stable order.
    segments = [("all", "all")]
    for kind, preferred in (("stage", spec.STAGES), ("seniority", spec.SENIORITIES)):
        values = _ordered(cells.get_column(kind).to_list(), preferred)
        segments += [(kind, f"{kind}={v}") for v in values]
    firms = sorted({f for f in cells.get_column("firm_id").to_list() if f is not None})
    segments += [("firm", f"firm={f}") for f in firms]
    rows = pl.DataFrame(
        {
            "tactic": [t for t in TACTICS for _ in segments],
            "segment_kind": [k for _ in TACTICS for k, _s in segments],
            "segment": [s for _ in TACTICS for _k, s in segments],
        },
        schema={"tactic": pl.String, "segment_kind": pl.String, "segment": pl.String},
    ).with_row_index("row", offset=0)
    m = rows.height
    # A fixed row order makes the floating-point sums below, and so every estimate, identical
    # from one build to the next (a full rebuild must equal the incremental one bit for bit).
    strata = strata.join(rows, on=["tactic", "segment_kind", "segment"], how="inner").sort(
        "row", *STRATA, nulls_last=True
    )

    g = strata.get_column("row").cast(pl.Int64).to_numpy()
    n1, x1, n0, x0 = (strata.get_column(c).cast(pl.Float64).to_numpy() for c in _COUNTS)
    n_with, x_with, n_without, x_without = (
        np.bincount(g, weights=v, minlength=m) for v in (n1, x1, n0, x0)
    )

    with np.errstate(invalid="ignore", divide="ignore"):
        rate1 = np.where(n_with > 0, x_with / n_with, np.nan)
        rate0 = np.where(n_without > 0, x_without / n_without, np.nan)
    r1_lo, r1_hi = stats.wilson_ci(x_with, n_with, ALPHA)
    r0_lo, r0_hi = stats.wilson_ci(x_without, n_without, ALPHA)
    diff, d_lo, d_hi = stats.newcombe_diff_ci(x_with, n_with, x_without, n_without, ALPHA)
    ratio, q_lo, q_hi = stats.risk_ratio_ci(x_with, n_with, x_without, n_without, ALPHA)
    adj = np.full((4, m), np.nan)
    if len(g):
        a = stats.mantel_haenszel_risk_difference(x1, n1, x0, n0, ALPHA, groups=g)
        k = len(a[0])
        for i in range(4):
            adj[i, :k] = a[i]
    adj_diff, adj_lo, adj_hi, p = adj

    enough = (n_with >= min_per_arm) & (n_without >= min_per_arm)
    p = np.where(enough, p, np.nan)
    q = stats.benjamini_hochberg(p)
    est = {
        "rate_with": rate1,
        "rate_with_ci_low": r1_lo,
        "rate_with_ci_high": r1_hi,
        "rate_without": rate0,
        "rate_without_ci_low": r0_lo,
        "rate_without_ci_high": r0_hi,
        "diff": diff,
        "diff_ci_low": d_lo,
        "diff_ci_high": d_hi,
        "ratio": ratio,
        "ratio_ci_low": q_lo,
        "ratio_ci_high": q_hi,
        "adj_diff": adj_diff,
        "adj_ci_low": adj_lo,
        "adj_ci_high": adj_hi,
        "p_value": p,
        "q_value": q,
    }
    out = rows.with_columns(
        n_with=pl.Series(n_with.astype(np.int64)),
        n_without=pl.Series(n_without.astype(np.int64)),
        offers_with=pl.Series(x_with.astype(np.int64)),
        offers_without=pl.Series(x_without.astype(np.int64)),
        enough_data=pl.Series(enough),
        **{
            c: pl.Series(np.where(enough, np.asarray(v, dtype=float), np.nan))
            for c, v in est.items()
        },
    )
    # NaN (not estimable) and "not enough data" both become null.
    return out.select(
        *[
            pl.col(c).fill_nan(None) if c in ESTIMATE_COLUMNS else pl.col(c)
            for c in OUTPUT_SCHEMA.names()
        ]
    ).cast(dict(OUTPUT_SCHEMA))


def tactic_effects(fct_interviews: pl.LazyFrame, min_per_arm: int = MIN_PER_ARM) -> pl.LazyFrame:
    """The ``marts.tactic_effects`` table (see the module docstring) from ``fct_interviews``
    (one row per interview). Lazy: the aggregation and the estimators run on ``collect()``."""
    if min_per_arm < 0:
        raise ValueError("min_per_arm must be non-negative")
    return _cell_counts(fct_interviews).map_batches(
        lambda cells: _estimate(cells, min_per_arm),
        schema=OUTPUT_SCHEMA,
        streamable=False,
    )
