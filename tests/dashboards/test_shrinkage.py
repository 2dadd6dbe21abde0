"""Partial pooling of a filtered view toward the overall estimate, and the family correction
(pure functions; DerSimonian-Laird held to statsmodels, BH to pipelines.insights.stats)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from statsmodels.stats.meta_analysis import combine_effects

from dashboards import shrinkage
from pipelines.insights import stats
from pipelines.insights.effects import TACTIC_SCHEMA


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_dersimonian_laird_equals_statsmodels(seed):
    rng = np.random.default_rng(seed)
    se = rng.uniform(0.02, 0.1, 8)
    y = 0.05 + rng.normal(0, 0.04, 8) + rng.normal(0, se)
    with np.errstate(invalid="ignore"):
        expected = max(0.0, combine_effects(y, se**2, method_re="dl").tau2)  # truncated at 0
    assert shrinkage.dersimonian_laird(y, se) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_dersimonian_laird_edge_cases():
    assert shrinkage.dersimonian_laird([0.1], [0.02]) == 0.0
    assert shrinkage.dersimonian_laird([0.1, np.nan, 0.1], [0.02, 0.01, 0.02]) == 0.0
    # Estimates closer together than their errors: no spread at all.
    assert shrinkage.dersimonian_laird([0.10, 0.11, 0.09], [0.05, 0.05, 0.05]) == 0.0


def test_shrink_between_the_overall_and_the_raw_estimate():
    none = shrinkage.shrink(0.20, 0.05, 0.08, 0.01, tau2=0.0)
    assert none.estimate == pytest.approx(0.08) and none.weight == 0.0
    # Fully pooled: the overall estimate with the overall interval.
    assert none.std_error == pytest.approx(0.01)
    wide = shrinkage.shrink(0.20, 0.05, 0.08, 0.01, tau2=1e6)
    assert wide.estimate == pytest.approx(0.20, abs=1e-6)
    assert wide.std_error == pytest.approx(0.05, rel=1e-4)
    half = shrinkage.shrink(0.20, 0.05, 0.08, 0.01, tau2=0.05**2)
    assert half.weight == pytest.approx(0.5)
    assert half.estimate == pytest.approx(0.14)
    assert half.std_error == pytest.approx(np.sqrt(0.5 * 0.05**2 + 0.25 * 0.01**2))
    assert half.ci_low < half.estimate < half.ci_high
    assert np.isnan(shrinkage.shrink(np.nan, 0.05, 0.08, 0.01, 0.0).estimate)


def test_family_q_is_bh_over_every_view_or_bonferroni_when_not_exhaustive():
    view = [0.001, 0.04, np.nan]
    others = [0.2, 0.003, 0.5, np.nan, 0.01]
    q = shrinkage.family_q(view, others, exhaustive=True, family_tests=99)
    expected = stats.benjamini_hochberg(np.array(view + others))[:3]
    np.testing.assert_array_equal(q, expected)
    q = shrinkage.family_q(view, [], exhaustive=False, family_tests=60)
    np.testing.assert_allclose(q[:2], [0.06, 1.0])
    assert np.isnan(q[2])


def row(tactic, method, estimate, se, p, enough=True, **extra):
    out = {c: None for c in TACTIC_SCHEMA.names()}
    return (
        out
        | {
            "tactic": tactic,
            "estimand": "advance",
            "method": method,
            "segment_kind": "all",
            "segment": "all",
            "estimate": estimate,
            "std_error": se,
            "ci_low": None if estimate is None else estimate - 2 * se,
            "ci_high": None if estimate is None else estimate + 2 * se,
            "p_value": p,
            "q_value": p,
            "is_finding": bool(enough and p is not None and p < 0.05),
            "enough_data": enough,
        }
        | extra
    )


def table(*rows) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=TACTIC_SCHEMA)


def test_explore_shrinks_each_key_toward_its_overall_and_corrects_across_the_family():
    view = table(
        row("asked_how_compare", "adjusted", 0.20, 0.05, 0.0001),
        row("asked_how_compare", "crude", 0.30, 0.05, 0.00001),
        row("addressed_concerns", "adjusted", None, None, None, enough=False),
    )
    overall = table(
        row("asked_how_compare", "adjusted", 0.02, 0.01, 0.04),
        row("asked_how_compare", "crude", 0.10, 0.01, 0.0),
        row("addressed_concerns", "adjusted", 0.05, 0.02, 0.01),
    )
    # Other views: adjusted estimates that agree (tau^2 = 0), crude ones that spread widely.
    others = table(
        *(row("asked_how_compare", "adjusted", 0.02, 0.05, 0.6) for _ in range(5)),
        *(row("asked_how_compare", "crude", v, 0.01, 0.5) for v in (-0.4, 0.5, -0.3, 0.6)),
    )
    out = shrinkage.explore(view, overall, shrinkage.Family(others, 6, True), "tactic")
    by = {(r["tactic"], r["method"]): r for r in out.iter_rows(named=True)}

    adjusted = by[("asked_how_compare", "adjusted")]
    assert adjusted["raw_estimate"] == 0.20 and adjusted["overall_estimate"] == 0.02
    tau2 = shrinkage.dersimonian_laird([0.02] * 5 + [0.20], [0.05] * 6)
    expected = shrinkage.shrink(0.20, 0.05, 0.02, 0.01, tau2)
    assert adjusted["estimate"] == pytest.approx(expected.estimate)
    assert adjusted["between_view_sd"] == pytest.approx(np.sqrt(tau2))
    assert 0.02 <= adjusted["estimate"] < 0.20

    crude = by[("asked_how_compare", "crude")]
    assert crude["shrinkage_weight"] > 0.99  # views differ a lot: the view keeps its own

    missing = by[("addressed_concerns", "adjusted")]
    assert missing["estimate"] is None and not missing["is_finding"]

    # The family: BH over the view's p-values and every other view's.
    p_all = np.array([0.0001, 0.00001, np.nan] + [0.6] * 5 + [0.5] * 4)
    q = stats.benjamini_hochberg(p_all)
    assert adjusted["q_value"] == pytest.approx(q[0]) == adjusted["family_q_value"]
    assert adjusted["is_finding"] and adjusted["family_views"] == 6
    assert adjusted["family_tests"] == 18
    assert out.columns[: len(TACTIC_SCHEMA)] == TACTIC_SCHEMA.names()

    raw = shrinkage.raw(out)
    assert raw.filter(pl.col("method") == "adjusted")["estimate"][0] == 0.20


def test_a_view_finding_alone_is_no_family_finding():
    view = table(row("asked_how_compare", "adjusted", 0.2, 0.1, 0.04))
    overall = table(row("asked_how_compare", "adjusted", 0.0, 0.01, 0.5))
    others = table(*(row("asked_how_compare", "adjusted", 0.0, 0.1, 0.9) for _ in range(9)))
    out = shrinkage.explore(view, overall, shrinkage.Family(others, 10, True), "tactic")
    assert not out["is_finding"][0]
    assert out["q_value"][0] == pytest.approx(0.4)
    bonferroni = shrinkage.explore(view, overall, shrinkage.Family(others[:0], 40, False), "tactic")
    assert bonferroni["q_value"][0] == 1.0 and not bonferroni["is_finding"][0]
