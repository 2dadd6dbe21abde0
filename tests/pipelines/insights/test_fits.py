"""The build's fits from sufficient statistics (pipelines.insights.fits) against the reference
``fit_ols``, and against pyfixest where a within-client stratum is constant in the rows."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import scipy.sparse as sp

from pipelines.insights.estimators import fit_ols, one_hot
from pipelines.insights.fits import Gram, fit_adjusted, fit_crude, fit_within


def design(seed: int, clients: int = 400):
    """Rounds of clients (1-6 each), two 0/1 treatments, one held-fixed flag, three strata."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(clients), rng.integers(1, 7, clients))
    n = g.size
    u = rng.normal(size=clients)[g]
    x = (rng.random((n, 3)) < np.array([0.3, 0.5, 0.2]) + 0.1 * (u[:, None] > 0)).astype(float)
    codes = [rng.integers(0, levels, n) for levels in (4, 6, 3)]
    y = (rng.random(n) < 0.4 + 0.1 * x[:, 0] + 0.1 * (u > 0)).astype(float)
    return y, x, one_hot(codes, n), g


def assert_same(fast, reference) -> None:
    """Same rows and clients; the first k treatments' figures (the rest were held fixed)."""
    k = len(fast.coef)
    assert (fast.n, fast.n_clusters) == (reference.n, reference.n_clusters)
    np.testing.assert_allclose(fast.coef, reference.coef[:k], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fast.std_error, reference.std_error[:k], rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_crude_fit_equals_fit_ols(seed):
    y, x, _, g = design(seed)
    for t in (x[:, 0], x[:, 1], np.zeros_like(y)):
        assert_same(fit_crude(y, t, g), fit_ols(y, t, sp.csr_matrix((len(y), 0)), g))


@pytest.mark.parametrize("seed", range(5))
def test_adjusted_fit_equals_fit_ols(seed):
    y, x, d, g = design(seed)
    fast = fit_adjusted(y, x, 2, d, Gram.of(d), g)
    assert_same(fast, fit_ols(y, x, d, g))
    # The coefficients come from the same integer normal equations: bit for bit.
    assert np.array_equal(fast.coef, fit_ols(y, x, d, g).coef[:2])


@pytest.mark.parametrize("seed", range(5))
def test_within_client_fit_equals_fit_ols(seed):
    y, x, d, g = design(seed)
    assert_same(fit_within(y, x, 2, d, g), fit_ols(y, x, d, g, absorb_clusters=True))


def test_rows_subsets_and_sparse_client_codes_fit_like_dense_codes():
    y, x, d, g = design(7)
    rows = np.random.default_rng(1).random(len(y)) < 0.4
    sub = (y[rows], x[rows], d[rows], g[rows])
    assert_same(fit_within(sub[0], sub[1], 2, sub[2], sub[3]), fit_ols(*sub, absorb_clusters=True))
    assert_same(fit_adjusted(sub[0], sub[1], 2, sub[2], Gram.of(sub[2]), sub[3]), fit_ols(*sub))


def test_no_rows_one_client_or_a_constant_treatment_give_no_estimate():
    y, x, d, g = design(2)
    assert np.isnan(fit_crude(y[:0], x[:0, 0], g[:0]).coef).all()
    one = g == g[0]
    assert np.isnan(fit_adjusted(y[one], x[one], 2, d[one], Gram.of(d[one]), g[one]).coef).all()
    constant = np.column_stack([np.ones_like(y), x[:, 1]])
    fit = fit_adjusted(y, constant, 1, d, Gram.of(d), g)
    assert np.isnan(fit.coef).all() and np.isnan(fit.std_error).all()


def test_a_stratum_constant_within_clients_does_not_count_as_rank():
    """In a segment of one stage, that stage's dummy is constant: the client effects absorb it,
    and only rounding is left of it after the within transformation. pyfixest drops it; so must
    the degrees of freedom of CR1."""
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(3000), rng.integers(1, 5, 3000))
    n = g.size
    t = (rng.random(n) < 0.4).astype(float)
    y = (rng.random(n) < 0.5 + 0.1 * t).astype(float)
    r = rng.integers(0, 3, n)
    strata = one_hot([r, np.full(n, 2)], n)  # the second stratum: always level 2
    fit = fit_within(y, t[:, None], 1, strata, g)
    frame = pd.DataFrame({"y": y, "t": t, "r": r, "g": g})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        oracle = pf.feols("y ~ t + C(r) | g", data=frame, vcov={"CRV1": "g"})
    np.testing.assert_allclose(fit.coef, oracle.coef().to_numpy()[:1], rtol=1e-10)
    np.testing.assert_allclose(fit.std_error, oracle.se().to_numpy()[:1], rtol=1e-10)


@pytest.mark.parametrize(
    "levels",
    [
        (3, 1, 4),  # one group; a categorical with a single level has no dummy
        (6, 6, 5, 12, 5, 4, 15, 6, 18),  # the confounders' shape: several groups
        (40, 60, 3),  # a group per categorical
    ],
)
def test_gram_from_joint_tables_equals_the_sparse_product(levels):
    rng = np.random.default_rng(len(levels))
    n = 4000
    codes = np.column_stack([rng.integers(-1, size, n) for size in levels])  # -1: null
    seen = [int(codes[:, b].max()) + 1 for b in range(len(levels))]
    gram = Gram.of_codes(codes, seen)
    reference = Gram.of(one_hot(list(codes.T), n))
    # Counts both ways: equal bit for bit.
    assert np.array_equal(gram.cross, reference.cross)
    assert np.array_equal(gram.sums, reference.sums)


def test_gram_from_joint_tables_declines_tables_too_large():
    codes = np.column_stack([np.arange(5000) % 3000, np.arange(5000) % 2000])
    assert Gram.of_codes(codes, [3000, 2000]) is None


@pytest.mark.parametrize("seed", range(3))
def test_fits_summed_over_parts_of_the_clients_equal_the_fit_of_all(seed):
    """Normal equations and meats add up over parts that share no client: the fit from the
    parts' sums equals the one-pass fit (the adjusted one's normal equations exactly)."""
    from pipelines.insights.fits import (
        Within,
        adjusted_meat,
        adjusted_normal,
        crude_meat,
        crude_normal,
        finish,
        solve,
    )

    y, x, d, g = design(seed)
    parts = [np.flatnonzero(g % 3 == p) for p in range(3)]

    def local(rows):  # each part numbers its own clients
        return np.unique(g[rows], return_inverse=True)[1]

    normals = [adjusted_normal(y[r], x[r], d[r], Gram.of(d[r]), local(r)) for r in parts]
    total = normals[0] + normals[1] + normals[2]
    whole = adjusted_normal(y, x, d, Gram.of(d), g)
    assert np.array_equal(total.ztz, whole.ztz) and np.array_equal(total.zty, whole.zty)
    solved = solve(total, 2)
    meat = sum(adjusted_meat(solved, 2, y[r], x[r], d[r], local(r)) for r in parts)
    assert_same(finish(solved, total, 2, meat), fit_adjusted(y, x, 2, d, Gram.of(d), g))

    t = x[:, 0]
    crude = [crude_normal(y[r], t[r], local(r)) for r in parts]
    total = crude[0] + crude[1] + crude[2]
    solved = solve(total, 1)
    meat = sum(crude_meat(solved, y[r], t[r], local(r)) for r in parts)
    assert_same(finish(solved, total, 1, meat), fit_crude(y, t, g))

    rows = [Within.of(y[r], x[r], d[r], local(r)) for r in parts]
    total = rows[0].normal() + rows[1].normal() + rows[2].normal()
    solved = solve(total, 2, absorbed=True)
    meat = sum(part.meat(solved, 2) for part in rows)
    assert_same(finish(solved, total, 2, meat), fit_within(y, x, 2, d, g))
