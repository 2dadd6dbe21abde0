"""The home page's verdicts: which tactics are findings, in plain language (pure, no Streamlit).

A tactic is a *finding* only when both arms have at least MIN_PER_ARM decided interviews and its
adjusted difference survives the Benjamini-Hochberg correction (q < ALPHA) over every test of
the table it came from. Everything else is labelled as what it is: could be chance, or not
enough data. The crude numbers lead the sentence (they are what a coach can check by counting);
the adjusted difference, the one that is tested, follows.
"""

from __future__ import annotations

import polars as pl

from pipelines.effects import ALPHA, MIN_PER_ARM, TACTICS

TACTIC_LABELS = {
    "asked_fit_question": "asked a fit question",
    "asked_about_concerns": "asked about concerns",
    "asked_about_ideal_candidate": "asked what the ideal candidate looks like",
    "asked_how_compare": "asked how they compare",
    "addressed_concerns": "addressed the concerns raised",
}
FINDING = "finding"
CHANCE = "not a finding: could be chance"
NOT_ESTIMABLE = "not a finding: adjusted difference not estimable"
NOT_ENOUGH = f"not enough data (n < {MIN_PER_ARM} per arm)"
STATUS_ORDER = {FINDING: 0, CHANCE: 1, NOT_ESTIMABLE: 2, NOT_ENOUGH: 3}


def pct(x: float | None) -> str:
    return "–" if x is None else f"{round(100 * x)}%"


def pts(x: float | None) -> str:
    """A difference of proportions in percentage points, signed ("+9", "-3", "0")."""
    if x is None:
        return "–"
    v = round(100 * x)
    return f"{v:+d}" if v else "0"


def label(tactic: str) -> str:
    return TACTIC_LABELS.get(tactic, tactic.replace("_", " "))


def status(row: dict, alpha: float = ALPHA) -> str:
    if not row["enough_data"]:
        return NOT_ENOUGH
    if row["adj_diff"] is None or row["q_value"] is None:
        return NOT_ESTIMABLE
    return FINDING if row["q_value"] < alpha else CHANCE


def sentence(row: dict, comparisons: int, min_per_arm: int = MIN_PER_ARM) -> str:
    who = f"Clients who {label(row['tactic'])}"
    n_with, n_without = row["n_with"], row["n_without"]
    verdict = status(row)
    if verdict == NOT_ENOUGH:
        return (
            f"{who}: not enough data (n < {min_per_arm} per arm: {n_with:,} with, "
            f"{n_without:,} without)."
        )
    crude = (
        f"{who} got offers {pct(row['rate_with'])} of the time vs {pct(row['rate_without'])} "
        f"({pts(row['diff'])} pts, 95% CI {pts(row['diff_ci_low'])} to "
        f"{pts(row['diff_ci_high'])}, n={n_with + n_without:,})."
    )
    if verdict == NOT_ESTIMABLE:
        return f"Not a finding: {crude} The adjusted difference cannot be estimated."
    adjusted = (
        f" Adjusted for stage, seniority, industry and experience: {pts(row['adj_diff'])} pts "
        f"(95% CI {pts(row['adj_ci_low'])} to {pts(row['adj_ci_high'])})."
    )
    q_value = row["q_value"]
    q = "q < 0.001" if q_value < 0.001 else f"q = {q_value:.2g}"
    q = f"{q} after correcting for {comparisons:,} comparisons"
    if verdict == FINDING:
        return f"{crude}{adjusted} A finding ({q})."
    return f"Not a finding, could be chance ({q}): {crude}{adjusted}"


def ranked(effects: pl.DataFrame) -> pl.DataFrame:
    """The ``segment = 'all'`` rows of a tactic_effects table with ``label``, ``status`` and
    ``sentence``: findings first by adjusted effect, then the rest, not-enough-data last."""
    comparisons = effects.get_column("p_value").drop_nulls().len()
    rows = effects.filter(pl.col("segment") == "all").to_dicts()
    for row in rows:
        row["label"] = label(row["tactic"])
        row["status"] = status(row)
        row["sentence"] = sentence(row, comparisons)
    order = {t: i for i, t in enumerate(TACTICS)}
    rows.sort(
        key=lambda r: (
            STATUS_ORDER[r["status"]],
            -(r["adj_diff"] if r["adj_diff"] is not None else float("-inf")),
            order.get(r["tactic"], len(order)),
        )
    )
    schema = dict(effects.schema) | {"label": pl.String, "status": pl.String, "sentence": pl.String}
    return pl.DataFrame(rows, schema=schema).with_row_index("rank", offset=1)


def benchmark(research_effects: pl.DataFrame, k: int | None) -> pl.DataFrame:
    """The published cross-firm ``segment = 'all'`` rows as a firm may see them: suppressed rows
    say so instead of showing numbers, and only the "finding" label follows the same rule."""
    hidden = f"suppressed (fewer than {k} clients)"
    return (
        research_effects.filter(pl.col("segment") == "all")
        .with_columns(
            pl.col("tactic").replace_strict(TACTIC_LABELS, default=pl.col("tactic")),
            pl.when(pl.col("is_suppressed"))
            .then(pl.lit(hidden))
            .when(~pl.col("enough_data"))
            .then(pl.lit(NOT_ENOUGH))
            .when(pl.col("q_value") < ALPHA)
            .then(pl.lit(FINDING))
            .otherwise(pl.lit(CHANCE))
            .alias("status"),
        )
        .select(
            "tactic",
            "status",
            "n_with",
            "n_without",
            "adj_diff",
            "adj_ci_low",
            "adj_ci_high",
            "q_value",
        )
    )
