"""Tests for pipelines.insights.stats: reference values, agreement with statsmodels/scipy, edge
cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from pipelines.insights import stats


@pytest.fixture(autouse=True)
def _no_warnings():
    """Edge cases must be handled, not warned about (no divide-by-zero / invalid warnings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _random_tables(seed: int, k: int = 200, lo: int = 1, hi: int = 400):
    rng = np.random.default_rng(seed)
    n1 = rng.integers(lo, hi, k)
    n2 = rng.integers(lo, hi, k)
    x1 = rng.binomial(n1, rng.uniform(0.02, 0.98, k))
    x2 = rng.binomial(n2, rng.uniform(0.02, 0.98, k))
    return x1, n1, x2, n2


# ------------------------------------------------------------------------------------------
# Wilson
# ------------------------------------------------------------------------------------------
def test_wilson_reference_value():
    low, high = stats.wilson_ci(45, 120)
    assert isinstance(low, float)
    assert low == pytest.approx(0.293524, abs=5e-7)
    assert high == pytest.approx(0.464230, abs=5e-7)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.01])
def test_wilson_matches_statsmodels_on_random_counts(alpha):
    x, n, _, _ = _random_tables(1)
    x = np.concatenate([x, [0, 5]])
    n = np.concatenate([n, [7, 5]])  # include 0 successes and all successes
    low, high = stats.wilson_ci(x, n, alpha)
    ref_low, ref_high = proportion_confint(x, n, alpha=alpha, method="wilson")
    np.testing.assert_allclose(low, ref_low, rtol=0, atol=1e-12)
    np.testing.assert_allclose(high, ref_high, rtol=0, atol=1e-12)


def test_wilson_empty_arm_is_nan():
    assert all(np.isnan(v) for v in stats.wilson_ci(0, 0))
    low, high = stats.wilson_ci([0, 3], [0, 10])
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert 0 < low[1] < 0.3 < high[1] < 1


# ------------------------------------------------------------------------------------------
# Newcombe
# ------------------------------------------------------------------------------------------
def test_newcombe_reference_value():
    diff, low, high = stats.newcombe_diff_ci(45, 120, 30, 150)
    assert diff == pytest.approx(0.175, abs=1e-12)
    assert low == pytest.approx(0.066836, abs=5e-7)
    assert high == pytest.approx(0.280432, abs=5e-7)
    ref = confint_proportions_2indep(45, 120, 30, 150, compare="diff", method="newcomb")
    assert (low, high) == pytest.approx(tuple(float(v) for v in ref), abs=1e-12)


def test_newcombe_matches_statsmodels_on_random_tables():
    x1, n1, x2, n2 = _random_tables(2)
    diff, low, high = stats.newcombe_diff_ci(x1, n1, x2, n2)
    for i in range(len(x1)):
        ref_low, ref_high = confint_proportions_2indep(
            x1[i], n1[i], x2[i], n2[i], compare="diff", method="newcomb"
        )
        assert diff[i] == pytest.approx(x1[i] / n1[i] - x2[i] / n2[i], abs=1e-12)
        assert low[i] == pytest.approx(ref_low, abs=1e-12)
        assert high[i] == pytest.approx(ref_high, abs=1e-12)


def test_newcombe_zero_counts():
    d, lo, hi = stats.newcombe_diff_ci(0, 20, 0, 30)  # no successes anywhere: still defined
    assert d == 0.0 and lo < 0 < hi
    assert all(np.isnan(v) for v in stats.newcombe_diff_ci(3, 0, 2, 10))
    assert all(np.isnan(v) for v in stats.newcombe_diff_ci(3, 10, 0, 0))


# ------------------------------------------------------------------------------------------
# Risk ratio (Katz)
# ------------------------------------------------------------------------------------------
def test_risk_ratio_matches_statsmodels_log_method():
    ratio, low, high = stats.risk_ratio_ci(45, 120, 30, 150)
    assert ratio == pytest.approx(1.875)
    ref = confint_proportions_2indep(45, 120, 30, 150, compare="ratio", method="log")
    assert (low, high) == pytest.approx(tuple(float(v) for v in ref), abs=1e-12)
    x1, n1, x2, n2 = _random_tables(3, lo=5)
    x1, x2 = np.maximum(x1, 1), np.maximum(x2, 1)
    ratio, low, high = stats.risk_ratio_ci(x1, n1, x2, n2)
    ref_low, ref_high = confint_proportions_2indep(x1, n1, x2, n2, compare="ratio", method="log")
    np.testing.assert_allclose(ratio, (x1 / n1) / (x2 / n2), rtol=1e-12)
    np.testing.assert_allclose(low, ref_low, rtol=1e-10)
    np.testing.assert_allclose(high, ref_high, rtol=1e-10)


def test_risk_ratio_zeros_are_nan_not_inf():
    ratio, low, high = stats.risk_ratio_ci(0, 10, 3, 10)
    assert ratio == 0.0 and np.isnan(low) and np.isnan(high)
    for args in [(3, 10, 0, 10), (0, 10, 0, 10), (1, 0, 1, 2), (1, 2, 1, 0)]:
        assert all(np.isnan(v) for v in stats.risk_ratio_ci(*args)), args
    ratio, low, high = stats.risk_ratio_ci([3, 10], [10, 10], [0, 5], [10, 10])
    assert np.isnan(ratio[0]) and ratio[1] == 2.0
    assert np.isfinite(low[1]) and np.isfinite(high[1])  # x1 == n1 is fine for Katz


# ------------------------------------------------------------------------------------------
# Two-proportion p-value
# ------------------------------------------------------------------------------------------
def test_p_value_is_pearson_chi2_for_large_counts():
    x1, n1, x2, n2 = _random_tables(4, lo=100, hi=2000)
    p = stats.two_proportion_p_value(x1, n1, x2, n2)
    checked = 0
    for i in range(len(x1)):
        table = np.array([[x1[i], n1[i] - x1[i]], [x2[i], n2[i] - x2[i]]])
        if sps.contingency.expected_freq(table).min() < 5:
            continue
        checked += 1
        ref = sps.chi2_contingency(table, correction=False).pvalue
        assert p[i] == pytest.approx(ref, rel=1e-8, abs=1e-300)
    assert checked > 150


def test_p_value_is_fisher_exact_for_small_counts():
    p = stats.two_proportion_p_value([1, 7, 0], [10, 9, 4], [6, 2, 3], [10, 8, 5])
    for i, t in enumerate([[[1, 9], [6, 4]], [[7, 2], [2, 6]], [[0, 4], [3, 2]]]):
        assert p[i] == pytest.approx(sps.fisher_exact(t).pvalue, rel=1e-12)


def test_p_value_edge_cases():
    assert np.isnan(stats.two_proportion_p_value(0, 0, 3, 10))
    assert stats.two_proportion_p_value(0, 10, 0, 20) == 1.0
    assert stats.two_proportion_p_value(10, 10, 20, 20) == 1.0


# ------------------------------------------------------------------------------------------
# Mantel-Haenszel risk difference
# ------------------------------------------------------------------------------------------
def test_mh_rd_single_stratum_equals_crude_difference():
    rd, low, high, p = stats.mantel_haenszel_risk_difference([45], [120], [30], [150])
    assert rd == pytest.approx(45 / 120 - 30 / 150, abs=1e-12)
    assert low < rd < high and 0 < p < 0.05
    # With one stratum the Sato variance is close to the unpooled binomial variance.
    se = (high - low) / (2 * sps.norm.isf(0.025))
    wald = np.sqrt(0.375 * 0.625 / 120 + 0.2 * 0.8 / 150)
    assert se == pytest.approx(wald, rel=0.02)


def _mh_rd_reference(x1, n1, x2, n2):
    """Scalar loop straight from Greenland & Robins (1985) / Sato (1989)."""
    sw = snum = sp = sq = 0.0
    for a, m1, b, m0 in zip(x1, n1, x2, n2, strict=True):
        if m1 == 0 or m0 == 0:
            continue
        t = m1 + m0
        sw += m1 * m0 / t
        snum += (a * m0 - b * m1) / t
        sp += (m1 * m1 * b - m0 * m0 * a + m1 * m0 * (m0 - m1) / 2) / t**2
        sq += (a * (m0 - b) + b * (m1 - a)) / (2 * t)
    rd = snum / sw
    return rd, (rd * sp + sq) / sw**2


def test_mh_rd_matches_formula_and_grouped_call_matches_separate_calls():
    rng = np.random.default_rng(5)
    k = 30
    groups = rng.integers(0, 4, k)
    n1, n2 = rng.integers(1, 40, k), rng.integers(1, 40, k)
    x1, x2 = rng.binomial(n1, 0.4), rng.binomial(n2, 0.3)
    rd, low, high, p = stats.mantel_haenszel_risk_difference(x1, n1, x2, n2, groups=groups)
    assert rd.shape == (4,)
    z = sps.norm.isf(0.025)
    for g in range(4):
        sel = groups == g
        one = stats.mantel_haenszel_risk_difference(x1[sel], n1[sel], x2[sel], n2[sel])
        assert one == pytest.approx((rd[g], low[g], high[g], p[g]), rel=1e-12)
        ref_rd, ref_var = _mh_rd_reference(x1[sel], n1[sel], x2[sel], n2[sel])
        assert rd[g] == pytest.approx(ref_rd, rel=1e-12)
        assert high[g] - rd[g] == pytest.approx(z * np.sqrt(ref_var), rel=1e-12)
        assert p[g] == pytest.approx(2 * sps.norm.sf(abs(ref_rd) / np.sqrt(ref_var)), rel=1e-9)


def test_mh_rd_strata_with_an_empty_arm_contribute_nothing():
    base = stats.mantel_haenszel_risk_difference([10, 4], [30, 12], [5, 3], [25, 20])
    padded = stats.mantel_haenszel_risk_difference(
        [10, 4, 7, 0, 0], [30, 12, 9, 0, 0], [5, 3, 0, 2, 0], [25, 20, 0, 4, 0]
    )
    assert padded == pytest.approx(base, rel=1e-12)


def test_mh_rd_adjusts_for_a_confounder():
    # Within each stratum the tactic adds 0.10; the treated are concentrated in the high
    # stratum, so the crude difference is much larger.
    x1, n1 = [20, 540], [100, 900]
    x2, n2 = [90, 50], [900, 100]
    rd, _, high, _ = stats.mantel_haenszel_risk_difference(x1, n1, x2, n2)
    assert rd == pytest.approx(0.10, abs=1e-12)
    crude = sum(x1) / sum(n1) - sum(x2) / sum(n2)
    assert crude > 0.3 and high < crude


def test_mh_rd_sato_interval_covers_in_sparse_strata():
    """Many sparse strata (2-8 per arm, the regime the Sato variance was built for), a
    heterogeneous baseline and a common RD of 0.1: 95% intervals cover ~95% of the time."""
    rng = np.random.default_rng(11)
    reps, k = 2000, 40
    groups = np.repeat(np.arange(reps), k)
    n1 = rng.integers(2, 9, reps * k)
    n2 = rng.integers(2, 9, reps * k)
    base = np.tile(rng.uniform(0.1, 0.7, k), reps)
    x1 = rng.binomial(n1, base + 0.1)
    x2 = rng.binomial(n2, base)
    rd, low, high, _ = stats.mantel_haenszel_risk_difference(x1, n1, x2, n2, groups=groups)
    assert abs(rd.mean() - 0.1) < 0.003  # unbiased
    coverage = np.mean((low <= 0.1) & (high >= 0.1))
    assert 0.935 <= coverage <= 0.965


def test_mh_rd_edge_cases():
    assert all(np.isnan(v) for v in stats.mantel_haenszel_risk_difference([1], [3], [0], [0]))
    assert all(np.isnan(v) for v in stats.mantel_haenszel_risk_difference([], [], [], []))
    rd, low, high, p = stats.mantel_haenszel_risk_difference([0, 0], [5, 6], [0, 0], [7, 8])
    assert rd == 0.0 and np.isnan(low) and np.isnan(high) and np.isnan(p)  # zero variance
    rd, low, high, p = stats.mantel_haenszel_risk_difference(
        [1, 0], [3, 0], [1, 2], [0, 5], groups=[0, 1]
    )
    assert np.isnan(rd).all() and np.isnan(p).all()
    with pytest.raises(ValueError):
        stats.mantel_haenszel_risk_difference([1, 2], [3, 4], [1, 2], [3, 4], groups=[0])


# ------------------------------------------------------------------------------------------
# Mantel-Haenszel odds ratio
# ------------------------------------------------------------------------------------------
# Two strata; rows = with / without the tactic, columns = offer / no offer.
MH_OR_TABLES = [[[14, 10], [10, 28]], [[9, 15], [7, 14]]]


def test_mh_odds_ratio_reference_value():
    # By hand: sum(a d / N) / sum(b c / N)
    #   = (14*28/62 + 9*14/45) / (10*10/62 + 15*7/45) = 9.1226 / 3.9462 = 2.31172
    by_hand = (14 * 28 / 62 + 9 * 14 / 45) / (10 * 10 / 62 + 15 * 7 / 45)
    got = stats.mantel_haenszel_odds_ratio(MH_OR_TABLES)
    assert round(got, 4) == 2.3117
    assert got == pytest.approx(by_hand, rel=1e-12)
    ref = StratifiedTable(np.moveaxis(np.array(MH_OR_TABLES, dtype=float), 0, -1))
    assert got == pytest.approx(ref.oddsratio_pooled, rel=1e-12)


def test_mh_odds_ratio_edge_cases():
    tables = [*MH_OR_TABLES, [[0, 0], [0, 0]]]  # an empty stratum is ignored
    assert stats.mantel_haenszel_odds_ratio(tables) == pytest.approx(2.31172, abs=1e-5)
    assert np.isnan(stats.mantel_haenszel_odds_ratio([[[0, 0], [0, 0]]]))
    assert np.isnan(stats.mantel_haenszel_odds_ratio([[[5, 0], [3, 4]]]))  # b*c == 0: infinite
    with pytest.raises(ValueError):
        stats.mantel_haenszel_odds_ratio([[1, 2], [3, 4]])


# ------------------------------------------------------------------------------------------
# Benjamini-Hochberg
# ------------------------------------------------------------------------------------------
def test_bh_matches_statsmodels():
    p = np.random.default_rng(7).uniform(0, 0.2, 50) ** 2
    q = stats.benjamini_hochberg(p)
    np.testing.assert_allclose(q, multipletests(p, method="fdr_bh")[1], rtol=1e-12)
    assert (q >= p).all()


def test_bh_nan_safe():
    p = np.array([0.01, np.nan, 0.04, 0.03, np.nan])
    q = stats.benjamini_hochberg(p)
    assert np.isnan(q[[1, 4]]).all()
    # m = 3 (the NaNs do not count): 0.01*3/1, then 0.03*3/2 = 0.045, 0.04*3/3 = 0.04 -> 0.04
    np.testing.assert_allclose(q[[0, 2, 3]], [0.03, 0.04, 0.04], rtol=1e-12)
    np.testing.assert_allclose(
        q[[0, 2, 3]], multipletests(p[[0, 2, 3]], method="fdr_bh")[1], rtol=1e-12
    )
    assert np.isnan(stats.benjamini_hochberg([np.nan, np.nan])).all()
    assert stats.benjamini_hochberg([]).shape == (0,)


def test_mh_risk_difference_interval_stays_within_minus_one_to_one():
    # Two tiny strata with extreme rates: the untruncated Wald interval would pass 1.
    rd, low, high, _ = stats.mantel_haenszel_risk_difference(
        np.array([2.0, 3.0]), np.array([2.0, 3.0]), np.array([0.0, 1.0]), np.array([2.0, 3.0])
    )
    assert -1.0 <= low <= rd <= high <= 1.0
    assert high == 1.0


def test_wilson_interval_contains_its_estimate_at_the_edges():
    # 49 of 49: the upper bound must be 1.0 exactly, not 0.9999999999999999 (which made a GX
    # mart check refuse to publish).
    n = np.arange(1, 400)
    for x in (n, np.zeros_like(n)):
        low, high = stats.wilson_ci(x, n)
        p = x / n
        assert (low <= p).all() and (p <= high).all()
    assert stats.wilson_ci(np.array([49]), np.array([49]))[1][0] == 1.0
