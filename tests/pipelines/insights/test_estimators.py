"""The clustered linear-probability estimators against statsmodels and pyfixest as oracles."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import scipy.sparse as sp
import statsmodels.api as sm

from pipelines.insights.estimators import (
    RoundProfile,
    application_offer_effect,
    fit_ols,
    offer_chance,
    one_hot,
)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """Clients with a trait that drives both the treatment and the outcome."""
    rng = np.random.default_rng(7)
    n, clients = 3000, 300
    g = rng.integers(0, clients, n)
    u = rng.normal(size=clients)[g]
    d = (rng.random(n) < 0.3 + 0.15 * (u > 0)).astype(float)
    d2 = (rng.random(n) < 0.4).astype(float)
    r = rng.integers(0, 4, n)
    s = rng.integers(0, 3, n)
    y = (rng.random(n) < 0.3 + 0.1 * d + 0.08 * np.clip(u, -1, 1) + 0.03 * r).astype(float)
    return pd.DataFrame({"y": y, "d": d, "d2": d2, "r": r, "s": s, "g": g})


def _dummies(df: pd.DataFrame, *cols: str) -> np.ndarray:
    return np.column_stack([pd.get_dummies(df[c], drop_first=True).to_numpy(float) for c in cols])


def test_crude_fit_is_the_difference_in_rates_with_statsmodels_cluster_errors(panel):
    fit = fit_ols(panel.y, panel.d, sp.csr_matrix((len(panel), 0)), panel.g)
    oracle = sm.OLS(panel.y, sm.add_constant(panel.d)).fit(
        cov_type="cluster", cov_kwds={"groups": panel.g}
    )
    rates = panel.groupby("d").y.mean()
    assert fit.coef[0] == pytest.approx(rates[1.0] - rates[0.0], abs=1e-12)
    assert fit.coef[0] == pytest.approx(oracle.params.iloc[1], abs=1e-12)
    assert fit.std_error[0] == pytest.approx(oracle.bse.iloc[1], rel=1e-9)
    assert fit.n_clusters == panel.g.nunique()


def test_adjusted_fit_equals_statsmodels_with_dummies(panel):
    covariates = one_hot([panel.r.to_numpy(), panel.s.to_numpy()], len(panel))
    fit = fit_ols(panel.y, panel[["d", "d2"]].to_numpy(), covariates, panel.g)
    x = np.column_stack([panel[["d", "d2"]].to_numpy(), _dummies(panel, "r", "s")])
    oracle = sm.OLS(panel.y, sm.add_constant(x)).fit(
        cov_type="cluster", cov_kwds={"groups": panel.g}
    )
    np.testing.assert_allclose(fit.coef, oracle.params.iloc[1:3], atol=1e-12)
    np.testing.assert_allclose(fit.std_error, oracle.bse.iloc[1:3], rtol=1e-9)


def test_within_client_fit_equals_pyfixest_feols_with_client_effects(panel):
    fit = fit_ols(
        panel.y,
        panel[["d", "d2"]].to_numpy(),
        one_hot([panel.r.to_numpy()], len(panel)),
        panel.g,
        absorb_clusters=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        oracle = pf.feols("y ~ d + d2 + C(r) | g", data=panel, vcov={"CRV1": "g"})
    np.testing.assert_allclose(fit.coef, oracle.coef().to_numpy()[:2], atol=1e-10)
    np.testing.assert_allclose(fit.std_error, oracle.se().to_numpy()[:2], rtol=1e-8)
    np.testing.assert_allclose(fit.p_value(), oracle.pvalue().to_numpy()[:2], rtol=1e-6)
    low, high = fit.interval()
    np.testing.assert_allclose(
        np.column_stack([low, high]), oracle.confint().to_numpy()[:2], rtol=1e-8
    )


def test_within_client_removes_a_trait_that_confounds_the_crude_fit():
    rng = np.random.default_rng(3)
    clients, per = 2000, 6
    g = np.repeat(np.arange(clients), per)
    u = np.repeat(rng.normal(size=clients), per)
    d = (rng.random(g.size) < 0.2 + 0.5 * (u > 0)).astype(float)
    y = (rng.random(g.size) < 0.3 + 0.0 * d + 0.2 * (u > 0)).astype(float)
    empty = sp.csr_matrix((g.size, 0))
    crude = fit_ols(y, d, empty, g)
    within = fit_ols(y, d, empty, g, absorb_clusters=True)
    assert crude.coef[0] > 0.05 and crude.p_value()[0] < 1e-6
    assert abs(within.coef[0]) < 3 * within.std_error[0]


def test_a_treatment_collinear_with_the_covariates_gets_no_estimate(panel):
    covariates = one_hot([panel.s.to_numpy()], len(panel))
    same_as_s1 = (panel.s == 1).to_numpy(float)
    fit = fit_ols(panel.y, np.column_stack([panel.d, same_as_s1]), covariates, panel.g)
    assert np.isfinite(fit.coef[0]) and np.isnan(fit.coef[1]) and np.isnan(fit.std_error[1])


def test_one_cluster_or_no_rows_give_no_estimate():
    empty = sp.csr_matrix((4, 0))
    assert np.isnan(fit_ols([1, 0, 1, 0], [1, 1, 0, 0], empty, [5, 5, 5, 5]).coef[0])
    assert np.isnan(fit_ols([], [], sp.csr_matrix((0, 0)), []).coef[0])


def test_singleton_clients_are_dropped_from_within_client_fits():
    y, d = np.array([1.0, 0, 1, 0, 1]), np.array([1.0, 0, 1, 0, 0])
    fit = fit_ols(y, d, sp.csr_matrix((5, 0)), [1, 1, 2, 2, 3], absorb_clusters=True)
    assert (fit.n, fit.n_clusters) == (4, 2)


def _profile(advance, share, gap_up=None, gap_down=None) -> RoundProfile:
    advance = np.asarray(advance, float)
    rounds = len(advance)
    return RoundProfile(
        advance,
        np.full(rounds, 0.5) if gap_up is None else np.asarray(gap_up, float),
        np.full(rounds, -0.5) if gap_down is None else np.asarray(gap_down, float),
        np.asarray(share, float),
    )


def test_offer_chance_is_the_product_of_advance_chances_for_a_fixed_process():
    # Three rounds, an offer only after the last: P(offer) = a1 * a2 * a3.
    profile = _profile([0.5, 0.6, 0.7], [0.0, 0.0, 1.0], gap_up=[0, 0, 0], gap_down=[0, 0, 0])
    assert offer_chance(profile, 0.0, True) == pytest.approx(0.5 * 0.6 * 0.7)
    # Offers after round 1 for a quarter of the advances: 0.5*0.25 + 0.5*0.75*(0.6*0.7).
    mixed = _profile([0.5, 0.6, 0.7], [0.25, 0.0, 1.0], gap_up=[0, 0, 0], gap_down=[0, 0, 0])
    assert offer_chance(mixed, 0.0, True) == pytest.approx(0.125 + 0.375 * 0.42)


def test_application_effect_of_one_round_is_the_round_effect():
    # One-round applications, everyone untreated: do(1) adds the effect, do(0) changes nothing.
    profile = _profile([0.4], [1.0], gap_up=[1.0], gap_down=[0.0])
    effect, se = application_offer_effect(profile, 0.08, 0.02)
    assert (effect, se) == (pytest.approx(0.08), pytest.approx(0.02))


def test_application_effect_compounds_over_rounds():
    profile = _profile([0.5, 0.5], [0.0, 1.0], gap_up=[1.0, 1.0], gap_down=[0.0, 0.0])
    effect, se = application_offer_effect(profile, 0.1, 0.01)
    assert effect == pytest.approx(0.6 * 0.6 - 0.5 * 0.5)
    assert se == pytest.approx(2 * 0.6 * 0.01, rel=1e-6)  # d/db (0.5 + b)^2 at b = 0.1


def test_one_hot_lays_out_each_categoricals_dummies_after_the_previous_ones():
    rng = np.random.default_rng(3)
    n = 500
    codes = [rng.integers(-1, size, n) for size in (4, 1, 7, 2)]  # -1: missing
    got = one_hot(codes, n)
    expected = np.hstack(
        [
            np.eye(size)[np.maximum(c, 0)][:, 1:] * (c >= 0)[:, None]
            for c, size in zip(codes, (4, 1, 7, 2), strict=True)
            if size > 1
        ]
    )
    assert got.shape == (n, 3 + 6 + 1) and np.array_equal(got.toarray(), expected)
    assert got.has_sorted_indices and got.nnz == int((np.column_stack(codes) > 0).sum())
    assert one_hot([np.zeros(n, dtype=int)], n).shape == (n, 0)
