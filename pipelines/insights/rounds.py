"""From interviews to analysable rounds: the unit and the outcome of every estimate.

A round is one interview, the employer's decision after it its outcome (the contract's table,
revision 1.1): ``offer`` and ``next_round`` advanced; ``rejected`` and ``no_response`` did not;
``withdrawn`` was the client's own choice, not a verdict, and a round without an outcome is
pending — both are left out of the estimates and counted. Firms that report only an
application's final result leave its earlier rounds without an outcome: a round followed by a
later round of the same application evidently advanced, and counts so (``is_advance_inferred``).

Rounds are numbered as the firm reported them, else by interview date within the application;
without an application_ref an interview is an application of its own (round 1).

Free-text labels (industry, role family) are normalised — case, spacing and punctuation, then
synonyms for industry — and groups with too few interviews are pooled into ``other``, so firms
that spell "Health Care" and "healthcare" land in one stratum instead of splitting it.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

ADVANCED = ("offer", "next_round")
NOT_ADVANCED = ("rejected", "no_response")
ROUND_STATUSES = ("advanced", "not_advanced", "withdrawn", "pending", "debrief_after_outcome")
_STATUS_ORDER = {s: i for i, s in enumerate(ROUND_STATUSES)}
OTHER = "other"
# A label group with fewer interviews than this (or than MIN_GROUP_SHARE of all) is pooled.
MIN_GROUP_ROWS = 30
MIN_GROUP_SHARE = 0.005
# Round numbers from here on share one stratum: few applications have that many rounds.
LAST_ROUND_STRATUM = 6
KIND_COLUMNS = {
    "asked_about_concerns": "concerns",
    "asked_about_ideal_candidate": "ideal_candidate",
    "asked_how_compare": "comparison",
}
# Spellings of the same industry that firms use (after normalisation: lower case, single
# spaces, no punctuation). Anything else keeps its own normalised name.
INDUSTRY_SYNONYMS = {
    "software": (
        "tech",
        "technology",
        "it",
        "information technology",
        "software engineering",
        "saas",
    ),
    "healthcare": ("health care", "health", "medical", "hospital", "hospitals"),
    "finance": ("financial services", "banking", "bank", "fintech", "financial"),
    "retail": ("e commerce", "ecommerce", "retail e commerce", "retail and e commerce"),
    "education": ("higher education", "edtech", "schools"),
    "manufacturing": ("industrial", "industrials"),
    "consulting": ("professional services", "management consulting"),
    "government": ("public sector", "public administration"),
}
_SYNONYM_OF = {alias: group for group, aliases in INDUSTRY_SYNONYMS.items() for alias in aliases}


def normalised_label(label: pl.Expr) -> pl.Expr:
    """Lower case, punctuation to spaces, single spaces, trimmed."""
    return (
        label.str.to_lowercase()
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
        .replace("", None)
    )


# Free-text label column -> (its group column, the group a label belongs to before pooling).
GROUPED = {
    "industry": ("industry_group", lambda label: normalised_label(label).replace(_SYNONYM_OF)),
    "role_family": ("role_group", normalised_label),
}


def label_counts(fct: pl.LazyFrame, label: str) -> pl.LazyFrame:
    """How many interviews carry each spelling of ``label`` (the input of ``label_groups``)."""
    return fct.group_by(label).agg(pl.len().alias("interviews"))


def label_groups(counts: pl.LazyFrame, label: str) -> pl.LazyFrame:
    """Every spelling of ``label`` with its group: groups too small to estimate anything in
    (fewer interviews than MIN_GROUP_ROWS or than MIN_GROUP_SHARE of all) and a missing label
    become ``other``. From counts, so slices of the interviews can share one grouping."""
    name, group_of = GROUPED[label]
    n = pl.col("interviews")
    floor = pl.max_horizontal(pl.lit(MIN_GROUP_ROWS), MIN_GROUP_SHARE * n.sum())
    rare = n.sum().over(name) < floor
    return (
        counts.with_columns(group_of(pl.col(label)).alias(name))
        .with_columns(
            pl.when(rare).then(pl.lit(OTHER)).otherwise(name).fill_null(OTHER).alias(name)
        )
        .select(label, name)
    )


def with_group(fct: pl.LazyFrame, label: str, counts: pl.LazyFrame | None = None) -> pl.LazyFrame:
    """``fct`` with the group column of ``label`` (replaced if there), grouped by ``counts``
    (default: its own)."""
    fct = fct.drop(GROUPED[label][0], strict=False)
    groups = label_groups(label_counts(fct, label) if counts is None else counts, label)
    return fct.join(groups, on=label, how="left", nulls_equal=True, maintain_order="left")


def industry_groups(fct: pl.LazyFrame) -> pl.LazyFrame:
    """``marts.industry_groups``: every industry spelling seen, the group it was put in."""
    counts = label_counts(fct, "industry")
    return (
        counts.join(label_groups(counts, "industry"), on="industry", nulls_equal=True)
        .select("industry", "industry_group", pl.col("interviews").cast(pl.Int64))
        .sort("industry_group", "industry")
    )


def _round_number() -> pl.Expr:
    # Interviews in date order within their application: interview_key (unique in a firm)
    # breaks ties, so numbering rows in that order is their dense rank, 3x faster to compute.
    app = ["firm_id", "application_key"]
    by_date = pl.int_range(1, pl.len() + 1).over(app, order_by=["interview_date", "interview_key"])
    return pl.coalesce(pl.col("round"), by_date).cast(pl.Int32).alias("round_number")


def _round_status() -> pl.Expr:
    outcome = pl.col("outcome")
    later = pl.col("round_number") < pl.col("round_number").max().over("firm_id", "application_key")
    return (
        pl.when(pl.col("is_debrief_after_outcome"))
        .then(pl.lit("debrief_after_outcome"))
        .when(outcome.is_in(ADVANCED))
        .then(pl.lit("advanced"))
        .when(outcome.is_in(NOT_ADVANCED))
        .then(pl.lit("not_advanced"))
        .when(outcome == "withdrawn")
        .then(pl.lit("withdrawn"))
        .when(outcome.is_null() & pl.col("has_application_ref") & later)
        .then(pl.lit("advanced"))
        .otherwise(pl.lit("pending"))
        .alias("round_status")
    )


def _kinds() -> list[pl.Expr]:
    return [tactic_flag(name).alias(name) for name in KIND_COLUMNS]


def tactic_flag(tactic: str) -> pl.Expr:
    """Per interview: true = used the tactic, false = did not, null = outside its population
    (``addressed_concerns`` exists only where concerns were raised)."""
    if tactic == "asked_fit_question":
        return pl.col("asked_fit_question")
    if tactic == "addressed_concerns":
        raised = pl.col("concerns_raised").list.len() > 0
        return pl.when(raised).then(pl.col("concerns_addressed"))
    kind = KIND_COLUMNS[tactic]
    return pl.col("fit_question_kinds").list.contains(pl.lit(kind)).fill_null(False)


def rounds_by_status(fct: pl.LazyFrame) -> pl.LazyFrame:
    """``marts.rounds_by_status``: per firm, how many rounds the estimates use and why the
    others are left out (withdrawn, pending, debriefed only after the outcome)."""
    return status_table(status_counts(rounds(fct)))


STATUS_COUNTS = ("rounds", "clients", "advances_inferred", "corrected_after_outcome")


def status_counts(rounds_: pl.LazyFrame) -> pl.LazyFrame:
    """Per firm and round status, ``STATUS_COUNTS`` of ``rounds``' rows: counts that add up
    over parts of the clients (a client's rounds all in one part)."""
    return rounds_.group_by("firm_id", "round_status").agg(
        pl.len().cast(pl.Int64).alias("rounds"),
        pl.col("client_key").n_unique().cast(pl.Int64).alias("clients"),
        pl.col("is_advance_inferred").sum().cast(pl.Int64).alias("advances_inferred"),
        (pl.col("versions_after_outcome") > 0)
        .sum()
        .cast(pl.Int64)
        .alias("corrected_after_outcome"),
    )


def status_table(counts: pl.LazyFrame) -> pl.LazyFrame:
    """``marts.rounds_by_status`` from ``status_counts`` (of the whole, or concatenated over
    parts of the clients)."""
    return (
        counts.group_by("firm_id", "round_status")
        .agg(pl.col(c).sum() for c in STATUS_COUNTS)
        .with_columns(pl.col("round_status").is_in(["advanced", "not_advanced"]).alias("is_used"))
        .sort("firm_id", pl.col("round_status").replace_strict(_STATUS_ORDER))
    )


def rounds(fct: pl.LazyFrame, counts: Mapping[str, pl.LazyFrame] | None = None) -> pl.LazyFrame:
    """Every interview of ``fct_interviews`` as a round: number, status, ``advanced`` (null
    when not analysable), kinds as flags and the grouped strata the estimators use.

    ``counts`` (label -> ``label_counts`` of every interview) groups the labels of a slice of
    the interviews as the whole would be; by default ``fct`` is the whole."""
    status = pl.col("round_status")
    for label in GROUPED:
        fct = with_group(fct, label, (counts or {}).get(label))
    return (
        fct.with_columns(_round_number())
        .with_columns(
            _round_status(),
            pl.col("outcome").is_null().alias("is_advance_inferred"),
            *_kinds(),
            pl.col("round_number").clip(upper_bound=LAST_ROUND_STRATUM).alias("round_stratum"),
            pl.col("interview_date").dt.strftime("%Y-%m").alias("month"),
        )
        .with_columns(
            pl.when(status == "advanced")
            .then(True)
            .when(status == "not_advanced")
            .then(False)
            .alias("advanced"),
            (pl.col("is_advance_inferred") & (status == "advanced")).alias("is_advance_inferred"),
        )
    )
