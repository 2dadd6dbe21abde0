"""Filtered views are exploratory: partial pooling toward the overall estimate, and findings
only when they survive the correction across the family of views (pure, no Streamlit).

A filtered view (one stage, two firms, a date range...) is one of many that could have been
picked the same way (``dashboards.family``). Looking at many views and reporting the one that
stands out is how chance becomes a "finding", so on a filtered view:

* **Shrinkage.** Each estimate is pulled toward the overall (unfiltered) estimate of the same
  tactic, estimand and method, by a normal-normal model: the view's true effect is drawn from
  N(overall, tau^2), its estimate from N(true, se^2). tau^2, the variance of the true effects
  between views, is estimated by DerSimonian-Laird from the estimates of the views in the family
  (the method of moments on Cochran's Q, truncated at 0). The posterior mean is
  ``overall + B (raw - overall)`` with ``B = tau^2 / (tau^2 + se^2)``; its variance
  ``B se^2 + (1 - B)^2 se_overall^2`` (Morris 1983: the uncertainty of the centre counted, its
  covariance with the view ignored). No heterogeneity between views (tau^2 = 0) gives the
  overall estimate; a precise view keeps most of its own. The raw estimate is kept beside it.
* **Correction.** The view's p-values are corrected together with those of every view in the
  family (Benjamini-Hochberg over every row of every view, as the pipeline does within a
  segment family). When the family was too large to estimate every view
  (``exhaustive=False``), Bonferroni over the whole family stands in: a p-value that survives
  Bonferroni survives BH on any family of that size, so no finding is shown that the full
  correction would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats as sps

from pipelines.insights import stats
from pipelines.insights.effects import ALPHA

KEYS = ("estimand", "method")
Z = float(sps.norm.isf(ALPHA / 2))


def dersimonian_laird(estimates, std_errors) -> float:
    """Between-study variance tau^2 of DerSimonian & Laird (1986): ``max(0, (Q - (k - 1)) /
    (sum w - sum w^2 / sum w))`` with ``w = 1 / se^2``. NaN entries are left out; fewer than
    two estimates give 0 (no evidence of any spread)."""
    y = np.asarray(estimates, dtype=float)
    se = np.asarray(std_errors, dtype=float)
    ok = np.isfinite(y) & np.isfinite(se) & (se > 0)
    y, w = y[ok], 1 / se[ok] ** 2
    if y.size < 2:
        return 0.0
    mean = (w * y).sum() / w.sum()
    q = (w * (y - mean) ** 2).sum()
    denominator = w.sum() - (w**2).sum() / w.sum()
    return float(max(0.0, (q - (y.size - 1)) / denominator)) if denominator > 0 else 0.0


@dataclass(frozen=True)
class Shrunk:
    estimate: float
    std_error: float
    weight: float  # B: the share of the view's own deviation from the overall that is kept

    @property
    def ci_low(self) -> float:
        return self.estimate - Z * self.std_error

    @property
    def ci_high(self) -> float:
        return self.estimate + Z * self.std_error


def shrink(raw: float, se: float, overall: float, overall_se: float, tau2: float) -> Shrunk:
    """The normal-normal posterior of one view's effect (see the module docstring)."""
    if not all(np.isfinite(v) for v in (raw, se, overall, overall_se, tau2)):
        return Shrunk(np.nan, np.nan, np.nan)
    weight = tau2 / (tau2 + se**2) if tau2 + se**2 > 0 else 1.0
    variance = weight * se**2 + (1 - weight) ** 2 * overall_se**2
    return Shrunk(overall + weight * (raw - overall), float(np.sqrt(variance)), weight)


def family_q(p_view, p_family, exhaustive: bool, family_tests: int) -> np.ndarray:
    """q-values of the view's p-values corrected across the family: BH over the view's and the
    other views' p-values when the family was estimated whole (``p_family`` then holds every
    other view's p-values, the view's own not repeated), else Bonferroni over
    ``family_tests``."""
    p_view = np.asarray(p_view, dtype=float)
    if not exhaustive:
        return np.minimum(1.0, p_view * max(family_tests, 1))
    together = np.concatenate([p_view, np.asarray(p_family, dtype=float)])
    return stats.benjamini_hochberg(together)[: p_view.size]


@dataclass(frozen=True)
class Family:
    """The other views' rows and how they relate to the shown view."""

    others: pl.DataFrame  # rows of every other view estimated (same schema as the view)
    size: int  # views in the family, the shown one included
    exhaustive: bool  # every view of the family was estimated


def explore(view: pl.DataFrame, overall: pl.DataFrame, family: Family, id_column: str):
    """The view's rows with the shrunk estimate and the family correction.

    Adds ``raw_estimate``, ``raw_ci_low``, ``raw_ci_high``, ``raw_std_error`` (the view's own),
    ``overall_estimate``, ``shrinkage_weight``, ``between_view_sd`` (sqrt tau^2),
    ``family_q_value``, ``family_views``, ``family_tests`` and ``is_family_finding``; the
    ``estimate`` / ``ci_*`` / ``std_error`` columns become the shrunk ones, ``q_value`` and
    ``is_finding`` the family's (the pipeline's own, computed as if the view were everything,
    are dropped: on a filtered view they are the wrong family)."""
    keys = [id_column, *KEYS]
    tests_per_view = max(view.height, 1)
    family_tests = tests_per_view * family.size
    centre = overall.select(
        *keys,
        pl.col("estimate").alias("_overall"),
        pl.col("std_error").alias("_overall_se"),
    )
    spread = _tau2(family.others, view, keys)
    rows = view.join(centre, on=keys, how="left").join(spread, on=keys, how="left").to_dicts()
    p_family = (
        family.others.get_column("p_value").cast(pl.Float64).to_numpy()
        if (family.others.height)
        else np.array([])
    )
    p_view = np.array([np.nan if r["p_value"] is None else r["p_value"] for r in rows])
    q = family_q(p_view, p_family, family.exhaustive, family_tests)
    for row, q_value in zip(rows, q, strict=True):
        _shrink_row(row)
        row["family_q_value"] = None if np.isnan(q_value) else float(q_value)
        row["family_views"] = family.size
        row["family_tests"] = family_tests
        row["is_family_finding"] = bool(
            row["enough_data"] and row["family_q_value"] is not None and q_value < ALPHA
        )
        row["q_value"] = row["family_q_value"]
        row["is_finding"] = row["is_family_finding"]
    schema = dict(view.schema) | EXTRA_SCHEMA
    return pl.DataFrame(
        rows,
        schema=schema | {"_overall": pl.Float64, "_overall_se": pl.Float64, "_tau2": pl.Float64},
    ).drop("_overall", "_overall_se", "_tau2")


EXTRA_SCHEMA = {
    "raw_estimate": pl.Float64,
    "raw_std_error": pl.Float64,
    "raw_ci_low": pl.Float64,
    "raw_ci_high": pl.Float64,
    "overall_estimate": pl.Float64,
    "shrinkage_weight": pl.Float64,
    "between_view_sd": pl.Float64,
    "family_q_value": pl.Float64,
    "family_views": pl.Int64,
    "family_tests": pl.Int64,
    "is_family_finding": pl.Boolean,
}


def _tau2(others: pl.DataFrame, view: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """tau^2 per key from every view of the family that has an estimate (the shown one
    included)."""
    usable = pl.concat([others, view], how="diagonal_relaxed").filter(
        pl.col("enough_data") & pl.col("estimate").is_not_null()
    )
    groups = {tuple(k): g for k, g in usable.group_by(keys)} if usable.height else {}
    pairs = [
        (*key, dersimonian_laird(g.get_column("estimate"), g.get_column("std_error")))
        for key, g in groups.items()
    ]
    schema = {k: view.schema[k] for k in keys} | {"_tau2": pl.Float64}
    return pl.DataFrame(pairs, schema=schema, orient="row")


def _shrink_row(row: dict) -> None:
    raw, se = row["estimate"], row["std_error"]
    row |= {
        "raw_estimate": raw,
        "raw_std_error": se,
        "raw_ci_low": row["ci_low"],
        "raw_ci_high": row["ci_high"],
        "overall_estimate": row["_overall"],
    }
    tau2 = row["_tau2"] if row["_tau2"] is not None else 0.0
    row["between_view_sd"] = float(np.sqrt(tau2)) if row["_tau2"] is not None else None
    if raw is None or se is None or row["_overall"] is None or row["_overall_se"] is None:
        row |= {
            "estimate": None,
            "std_error": None,
            "ci_low": None,
            "ci_high": None,
            "shrinkage_weight": None,
        }
        return
    s = shrink(raw, se, row["_overall"], row["_overall_se"], tau2)
    row |= {
        "estimate": s.estimate,
        "std_error": s.std_error,
        "ci_low": s.ci_low,
        "ci_high": s.ci_high,
        "shrinkage_weight": s.weight,
    }


def raw(rows: pl.DataFrame) -> pl.DataFrame:
    """An explored view with the raw (unshrunk) estimates in ``estimate`` / ``ci_*`` again;
    the finding flag stays the family's."""
    if "raw_estimate" not in rows.columns:
        return rows
    return rows.with_columns(
        pl.col("raw_estimate").alias("estimate"),
        pl.col("raw_std_error").alias("std_error"),
        pl.col("raw_ci_low").alias("ci_low"),
        pl.col("raw_ci_high").alias("ci_high"),
    )
