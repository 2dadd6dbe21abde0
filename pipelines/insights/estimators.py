"""Linear probability models with errors clustered by client, and the sequential (continuation-
ratio) composition of per-round effects into the chance that an application ends in an offer.

``fit_ols`` is ordinary least squares of a 0/1 outcome on treatment columns and sparse one-hot
covariates, optionally absorbing one fixed effect per cluster (the client: a within-client
comparison), with the CR1 cluster-robust sandwich: ``G/(G-1) * (N-1)/(N-K)``, K the rank of the
regressors, where effects absorbed within the clusters count as one (the intercept they replace),
as in fixest / pyfixest; Student t with G-1 degrees of freedom. Clients with a single row
carry no within-client information and are dropped from an absorbing fit, as pyfixest does.
Tests hold it to statsmodels (OLS, cluster covariance) and pyfixest (``feols`` with ``| client``)
as oracles.

Why a hand-written solver rather than calling those libraries in the build: the build fits a few
hundred models (contrasts x methods x segments) on up to millions of rows with ~100 dummy
columns. Here the design stays sparse and the within transformation is applied to the normal
equations (``Z'Z - (C'Z)' diag(1/n_g) (C'Z)``), so nothing dense of size rows x columns is ever
built; a library call costs seconds each at that size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from scipy import stats as sps

# Eigenvalues below this share of the largest are rounding, not rank: a stratum constant within
# every client (a stage in its own stage segment) leaves ~1e-14 of noise after the within
# transformation, which must not count towards K in CR1's (N-1)/(N-K); a real direction of a
# 0/1 design is at least ~1/N of the largest.
RANK_RTOL = 1e-10


@dataclass(frozen=True)
class Fit:
    """Coefficients of the treatment columns, in their order, with CR1 standard errors."""

    coef: np.ndarray
    std_error: np.ndarray
    n: int  # rows that entered the fit
    n_clusters: int

    def p_value(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.abs(self.coef / self.std_error)
        return 2 * sps.t.sf(t, self.dof)

    def interval(self, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        half = sps.t.isf(alpha / 2, self.dof) * self.std_error
        return self.coef - half, self.coef + half

    @property
    def dof(self) -> int:
        return max(self.n_clusters - 1, 1)


def one_hot(codes: list[np.ndarray], n: int, levels: list[int] | None = None) -> sp.csr_matrix:
    """Dummies of each integer-coded categorical (codes 0..L-1, -1 = missing: no dummy), the
    first level of each dropped (the intercept or the absorbed effect stands for it). Built as
    CSR arrays directly: each row's columns come in categorical order, already sorted (stacking
    a sparse block per categorical took 0.9 s at 1M rounds). ``levels`` (default: each one's
    highest code + 1) lays out the columns of rows that are a part of a larger whole."""
    columns, width = [], 0
    for b, c in enumerate(codes):
        c = np.asarray(c, dtype=np.int64)
        size = (int(c.max()) + 1 if c.size else 0) if levels is None else levels[b]
        if size > 1:
            columns.append(np.where(c > 0, width + c - 1, -1))
            width += size - 1
    if not columns:
        return sp.csr_matrix((n, 0))
    cells = np.column_stack(columns)
    present = cells >= 0
    indptr = np.concatenate([[0], np.cumsum(present.sum(axis=1))])
    indices = cells[present]  # row by row
    return sp.csr_matrix((np.ones(indices.size), indices, indptr), shape=(n, width))


def _dense_codes(values: np.ndarray) -> np.ndarray:
    return np.unique(values, return_inverse=True)[1]


def fit_ols(
    y: np.ndarray,
    treatments: np.ndarray,
    covariates: sp.csr_matrix,
    clusters: np.ndarray,
    *,
    absorb_clusters: bool = False,
) -> Fit:
    """OLS of ``y`` on ``treatments`` (n x k) and ``covariates`` (sparse) plus an intercept, or
    plus one effect per cluster when ``absorb_clusters``; CR1 errors clustered on
    ``clusters``."""
    y = np.asarray(y, dtype=float)
    t = np.asarray(treatments, dtype=float)
    t = t[:, None] if t.ndim == 1 else t
    k = t.shape[1]
    if len(y) == 0:
        return _empty(k, 0, 0)
    g = _dense_codes(np.asarray(clusters))
    if absorb_clusters:
        keep = np.bincount(g)[g] > 1
        y, t, covariates, g = y[keep], t[keep], covariates[keep], _dense_codes(g[keep])
        z = sp.hstack([sp.csr_matrix(t), covariates], format="csr")
    else:
        ones = sp.csr_matrix(np.ones((len(y), 1)))
        z = sp.hstack([sp.csr_matrix(t), covariates, ones], format="csr")
    n, n_groups = len(y), int(g.max()) + 1 if len(g) else 0
    if n_groups < 2 or n <= z.shape[1]:
        return _empty(k, n, n_groups)
    members = sp.csr_matrix((np.ones(n), (np.arange(n), g)), shape=(n, n_groups))
    ztz = (z.T @ z).toarray()
    zty = z.T @ y
    if absorb_clusters:
        size = np.bincount(g).astype(float)
        ctz = members.T @ z
        ztz -= (ctz.T @ sp.diags(1 / size) @ ctz).toarray()
        zty -= ctz.T @ ((members.T @ y) / size)
    bread, rank = linalg.pinvh(ztz, rtol=RANK_RTOL, return_rank=True)
    beta = bread @ zty
    resid = y - z @ beta
    if absorb_clusters:
        resid -= members @ ((members.T @ resid) / size)
    scores = (members.T @ z.multiply(resid[:, None])).toarray()
    rank += int(absorb_clusters)  # the absorbed effects stand in for one intercept
    if n <= rank:
        return _empty(k, n, n_groups)
    scale = n_groups / (n_groups - 1) * (n - 1) / (n - rank)
    cov = scale * bread @ (scores.T @ scores) @ bread
    se = np.sqrt(np.clip(np.diag(cov)[:k], 0, None))
    # A treatment column that is collinear with the rest is not identified: no estimate.
    identified = np.abs(np.diag(bread @ ztz)[:k] - 1) < 1e-6
    coef = np.where(identified, beta[:k], np.nan)
    return Fit(coef, np.where(identified, se, np.nan), n, n_groups)


def _empty(k: int, n: int, n_groups: int) -> Fit:
    return Fit(np.full(k, np.nan), np.full(k, np.nan), n, n_groups)


# -------------------------------------------------------------------------------------------
# From per-round effects to applications
# -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RoundProfile:
    """What the sequential model needs of each round number r = 1..R (arrays indexed r-1)."""

    advance_rate: np.ndarray  # observed share of analysable rounds that advanced
    treated_gap: np.ndarray  # per round: sum over rows of (1 - T) / rows, for do(T=1) ...
    control_gap: np.ndarray  # ... and sum of (0 - T) / rows, for do(T=0)
    offer_share: np.ndarray  # share of advances at r that were offers (ended the application)


def offer_chance(profile: RoundProfile, effect: float, treated: bool) -> float:
    """P(an application ends in an offer) when the tactic is used in every round (``treated``)
    or in none: rounds are passed one after another, each advance ending in an offer with the
    round's offer share, else leading to the next round."""
    gap = profile.treated_gap if treated else profile.control_gap
    advance = np.clip(profile.advance_rate + effect * gap, 0.0, 1.0)
    reach, total = 1.0, 0.0
    for a, f in zip(advance, profile.offer_share, strict=True):
        total += reach * a * f
        reach *= a * (1 - f)
    return total


def application_offer_effect(
    profile: RoundProfile, effect: float, std_error: float
) -> tuple[float, float]:
    """Difference in offer chance (every round vs none) and its delta-method standard error
    from the per-round effect's (round profiles taken as known: their sampling error is of a
    smaller order than the effect's)."""
    if not np.isfinite(effect) or not len(profile.advance_rate):
        return float("nan"), float("nan")

    def diff(b: float) -> float:
        return offer_chance(profile, b, True) - offer_chance(profile, b, False)

    h = 1e-4
    slope = (diff(effect + h) - diff(effect - h)) / (2 * h)
    return diff(effect), abs(slope) * std_error
