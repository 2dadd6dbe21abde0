"""Honest estimators for comparing offer rates: proportions, differences, ratios, stratified
(Mantel-Haenszel) effects and false-discovery-rate control.

Every function accepts scalars or numpy arrays (broadcast elementwise) and returns floats or
arrays of the same shape. "Not estimable" is always NaN — never ``inf``, never a crash, and never
a warning: an arm with no interviews, a ratio with a zero denominator, a variance of zero.

Conventions: ``x`` = successes (offers), ``n`` = trials (decided interviews); arm 1 = "with the
tactic", arm 2 = "without". Intervals are two-sided with coverage ``1 - alpha``.

References
----------
- Wilson EB (1927). Probable inference, the law of succession, and statistical inference.
  JASA 22:209-212.
- Newcombe RG (1998). Interval estimation for the difference between independent proportions:
  comparison of eleven methods. Stat Med 17:873-890 (method 10, the hybrid score interval).
- Katz D, Baptista J, Azen SP, Pike MC (1978). Obtaining confidence intervals for the risk ratio
  in cohort studies. Biometrics 34:469-474.
- Greenland S, Robins JM (1985). Estimation of a common effect parameter from sparse follow-up
  data. Biometrics 41:55-68.
- Sato T (1989). On the variance estimator for the Mantel-Haenszel risk difference (letter).
  Biometrics 45:1323-1324.
- Mantel N, Haenszel W (1959). Statistical aspects of the analysis of data from retrospective
  studies of disease. JNCI 22:719-748.
- Benjamini Y, Hochberg Y (1995). Controlling the false discovery rate. JRSS B 57:289-300.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps
from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

__all__ = [
    "benjamini_hochberg",
    "mantel_haenszel_odds_ratio",
    "mantel_haenszel_risk_difference",
    "newcombe_diff_ci",
    "risk_ratio_ci",
    "two_proportion_p_value",
    "wilson_ci",
]

# Below this smallest expected cell count two_proportion_p_value switches from the Pearson
# chi-square (score) test to Fisher's exact test (Cochran's rule of thumb).
MIN_EXPECTED_FOR_CHI2 = 5.0


def _f(*arrays):
    """Broadcast inputs to float arrays (0-d for scalars)."""
    return np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in arrays))


def _out(a: np.ndarray):
    """0-d array -> Python float; otherwise the array itself."""
    return float(a) if np.ndim(a) == 0 else a


def _z(alpha: float) -> float:
    return float(sps.norm.isf(alpha / 2))


# -------------------------------------------------------------------------------------------
# One proportion
# -------------------------------------------------------------------------------------------
def wilson_ci(successes, n, alpha: float = 0.05):
    """Wilson score interval for a binomial proportion -> ``(low, high)``.

    Delegates to statsmodels ``proportion_confint(method="wilson")`` (same numbers, e.g.
    45/120 -> (0.293524, 0.464230)); ``n == 0`` gives ``(nan, nan)``.
    """
    x, n = _f(successes, n)
    ok = n > 0
    low = np.full(x.shape, np.nan)
    high = np.full(x.shape, np.nan)
    if ok.any():
        lo, hi = proportion_confint(x[ok], n[ok], alpha=alpha, method="wilson")
        # At x = 0 or x = n the bound is 0 or 1 exactly; floating point gives 1 - 1e-16, which
        # would put the estimate outside its own interval.
        p = x[ok] / n[ok]
        low[ok], high[ok] = np.minimum(lo, p), np.maximum(hi, p)
    return _out(low), _out(high)


# -------------------------------------------------------------------------------------------
# Two independent proportions
# -------------------------------------------------------------------------------------------
def newcombe_diff_ci(x1, n1, x2, n2, alpha: float = 0.05):
    """Difference p1 - p2 with Newcombe's hybrid score interval -> ``(diff, low, high)``.

    Newcombe (1998) method 10: with Wilson limits (l_i, u_i) of each arm,
    ``low = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)``, ``high = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)``.
    Identical to statsmodels ``confint_proportions_2indep(..., compare="diff",
    method="newcomb")``; e.g. 45/120 vs 30/150 -> (0.175, 0.066836, 0.280432). NaN when an arm
    is empty.
    """
    x1, n1, x2, n2 = _f(x1, n1, x2, n2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p1 = np.where(n1 > 0, x1 / n1, np.nan)
        p2 = np.where(n2 > 0, x2 / n2, np.nan)
    l1, u1 = (np.asarray(v) for v in wilson_ci(x1, n1, alpha))
    l2, u2 = (np.asarray(v) for v in wilson_ci(x2, n2, alpha))
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return _out(d), _out(low), _out(high)


def risk_ratio_ci(x1, n1, x2, n2, alpha: float = 0.05):
    """Risk ratio p1 / p2 with the Katz log interval -> ``(ratio, low, high)``.

    ``log RR ± z * sqrt(1/x1 - 1/n1 + 1/x2 - 1/n2)`` (Katz et al. 1978).

    Zeros, honestly: an empty arm or ``x2 == 0`` (p2 = 0) makes the ratio NaN; ``x1 == 0`` with
    ``x2 > 0`` gives the point estimate 0 but a NaN interval (the log interval does not exist
    and we do not invent one with a continuity correction).
    """
    x1, n1, x2, n2 = _f(x1, n1, x2, n2)
    with np.errstate(invalid="ignore", divide="ignore"):
        defined = (n1 > 0) & (n2 > 0) & (x2 > 0)
        ratio = np.where(defined, (x1 / n1) / (x2 / n2), np.nan)
        has_ci = defined & (x1 > 0)
        se = np.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
        z = _z(alpha)
        low = np.where(has_ci, np.exp(np.log(ratio) - z * se), np.nan)
        high = np.where(has_ci, np.exp(np.log(ratio) + z * se), np.nan)
    return _out(ratio), _out(low), _out(high)


def two_proportion_p_value(x1, n1, x2, n2):
    """Two-sided p-value for H0: p1 == p2.

    The Pearson chi-square test without continuity correction (equivalently the two-sample score
    z-test with the pooled variance) when every expected cell count of the 2x2 table is at least
    5 (Cochran's rule), otherwise Fisher's exact test (``scipy.stats.fisher_exact``, two-sided,
    "sum of probabilities no larger than the observed" rule). NaN when an arm is empty; 1.0 when
    there are no successes or no failures at all (the tables are then identical in every
    possible way).
    """
    x1, n1, x2, n2 = _f(x1, n1, x2, n2)
    shape = x1.shape
    x1, n1, x2, n2 = (a.ravel() for a in (x1, n1, x2, n2))
    p = np.full(x1.shape, np.nan)
    ok = (n1 > 0) & (n2 > 0)
    tot = n1 + n2
    succ = x1 + x2
    fail = tot - succ
    degenerate = ok & ((succ == 0) | (fail == 0))
    p[degenerate] = 1.0
    live = ok & ~degenerate
    with np.errstate(invalid="ignore", divide="ignore"):
        min_expected = np.minimum(n1, n2) * np.minimum(succ, fail) / tot
        pooled = succ / tot
        z = (x1 / n1 - x2 / n2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    chi2 = live & (min_expected >= MIN_EXPECTED_FOR_CHI2)
    p[chi2] = 2 * sps.norm.sf(np.abs(z[chi2]))
    for i in np.flatnonzero(live & ~chi2):
        table = [[x1[i], n1[i] - x1[i]], [x2[i], n2[i] - x2[i]]]
        p[i] = sps.fisher_exact(np.asarray(table, dtype=np.int64)).pvalue
    return _out(p.reshape(shape))


# -------------------------------------------------------------------------------------------
# Stratified (Mantel-Haenszel) estimators
# -------------------------------------------------------------------------------------------
def mantel_haenszel_risk_difference(x1, n1, x2, n2, alpha: float = 0.05, groups=None):
    """Mantel-Haenszel common risk difference over strata -> ``(rd, low, high, p_value)``.

    Inputs are per-stratum arrays (stratum k: ``x1[k]`` offers out of ``n1[k]`` with the tactic,
    ``x2[k]`` out of ``n2[k]`` without). With ``groups`` (non-negative ints, one per stratum)
    several independent comparisons are estimated at once and each output is an array indexed
    by group id (length ``groups.max() + 1``); without it the whole input is one comparison and
    the outputs are floats.

    Estimator (Greenland & Robins 1985), with ``N_k = n1_k + n2_k`` and weights
    ``w_k = n1_k n2_k / N_k``::

        RD_MH = sum_k (x1_k n2_k - x2_k n1_k) / N_k  /  sum_k w_k

    i.e. the ``w_k``-weighted mean of the stratum risk differences. Variance: the Greenland-Robins
    / Sato (1989) estimator, consistent both for a few large strata and for many sparse strata::

        P_k = (n1_k^2 x2_k - n2_k^2 x1_k + n1_k n2_k (n2_k - n1_k) / 2) / N_k^2
        Q_k = (x1_k (n2_k - x2_k) + x2_k (n1_k - x1_k)) / (2 N_k)
        Var(RD_MH) = (RD_MH * sum_k P_k + sum_k Q_k) / (sum_k w_k)^2

    (as in Rothman, Greenland & Lash, Modern Epidemiology, 3rd ed., ch. 15). The interval is
    Wald ``RD_MH ± z * sqrt(Var)`` and ``p_value`` is the matching two-sided Wald test of
    ``RD = 0`` (so p < alpha exactly when the interval excludes 0).

    A stratum where either arm is empty has ``w_k = 0`` and contributes nothing. All NaN when
    no stratum has both arms; interval and p-value NaN when the variance estimate is 0 (e.g. no
    offers at all).
    """
    x1, n1, x2, n2 = (a.ravel() for a in _f(x1, n1, x2, n2))
    N = n1 + n2
    both = (n1 > 0) & (n2 > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(both, n1 * n2 / N, 0.0)
        num = np.where(both, (x1 * n2 - x2 * n1) / N, 0.0)
        P = np.where(both, (n1**2 * x2 - n2**2 * x1 + n1 * n2 * (n2 - n1) / 2) / N**2, 0.0)
        Q = np.where(both, (x1 * (n2 - x2) + x2 * (n1 - x1)) / (2 * N), 0.0)
    if groups is None:
        sums = [np.array([v.sum()]) for v in (w, num, P, Q)]
    else:
        g = np.asarray(groups, dtype=np.int64).ravel()
        if g.shape != w.shape:
            raise ValueError("groups must have one entry per stratum")
        size = int(g.max()) + 1 if g.size else 0
        sums = [np.bincount(g, weights=v, minlength=size) for v in (w, num, P, Q)]
    sw, snum, sP, sQ = sums
    with np.errstate(invalid="ignore", divide="ignore"):
        rd = np.where(sw > 0, snum / sw, np.nan)
        var = (rd * sP + sQ) / sw**2
        se = np.where(var > 0, np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
        z = _z(alpha)
        # A risk difference lives in [-1, 1]; the Wald interval can overshoot in small strata,
        # so it is truncated there rather than reporting impossible bounds.
        low, high = np.maximum(rd - z * se, -1.0), np.minimum(rd + z * se, 1.0)
        p = 2 * sps.norm.sf(np.abs(rd / se))
    if groups is None:
        return float(rd[0]), float(low[0]), float(high[0]), float(p[0])
    return rd, low, high, p


def mantel_haenszel_odds_ratio(tables) -> float:
    """Mantel-Haenszel pooled odds ratio of k 2x2 tables -> float.

    ``tables``: shape ``(k, 2, 2)`` — a list of tables ``[[a, b], [c, d]]`` with rows = with /
    without the tactic and columns = offer / no offer. Computed by statsmodels
    ``StratifiedTable(...).oddsratio_pooled`` = ``sum(a d / N) / sum(b c / N)`` (Mantel &
    Haenszel 1959). Empty tables are dropped; NaN when no table is left or the denominator is 0
    (the pooled odds ratio is then undefined or infinite).
    """
    t = np.asarray(tables, dtype=float)
    if t.ndim != 3 or t.shape[1:] != (2, 2):
        raise ValueError("tables must have shape (k, 2, 2)")
    t = t[t.sum(axis=(1, 2)) > 0]
    if not len(t):
        return float("nan")
    bc = (t[:, 0, 1] * t[:, 1, 0] / t.sum(axis=(1, 2))).sum()
    if bc == 0:
        return float("nan")
    return float(StratifiedTable(np.moveaxis(t, 0, -1)).oddsratio_pooled)


# -------------------------------------------------------------------------------------------
# Multiple comparisons
# -------------------------------------------------------------------------------------------
def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg q-values (FDR-adjusted p-values) -> float array, same shape.

    statsmodels ``multipletests(method="fdr_bh")`` over the finite p-values only: a NaN p-value
    stays NaN and does not count towards the number of tests m.
    """
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return q
