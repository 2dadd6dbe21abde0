"""The build's linear probability fits from sufficient statistics: the same models, normal
equations and CR1 errors as ``estimators.fit_ols`` (the reference, which tests hold these to),
without building a row-level design per fit.

Why: a build fits a few hundred models (contrasts x segments x methods) on a handful of row
sets. What a fit needs of its rows is small:

- crude (one regressor and an intercept): per-client counts and sums of t, y, t*t, t*y;
- adjusted: Z'Z and Z'y, where the confounder block D'D (integer counts) depends only on the
  rows, so it is computed once per row set and shared by every contrast (``Gram``); the
  treatment blocks X'D are one sparse product;
- within-client: the same on the few within-client strata, minus the per-client means.

Every entry of Z'Z and Z'y is a sum of 0/1 products, an integer exact in floating point in any
order, so the coefficients equal ``fit_ols``' bit for bit where nothing is absorbed. The CR1
meat needs only the treatment rows of the sandwich: each row's score is projected on them before
summing per client (``u_g = sum_i e_i z_i' B[:, :k]``, G x k), never the G x K score matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import linalg

from pipelines.insights.estimators import RANK_RTOL, Fit


@dataclass(frozen=True)
class Gram:
    """What a fit needs of its covariates on its rows: D'D and D'1 (counts)."""

    cross: np.ndarray
    sums: np.ndarray

    @classmethod
    def of(cls, covariates: sp.csr_matrix) -> Gram:
        return cls((covariates.T @ covariates).toarray(), np.asarray(covariates.sum(axis=0))[0])

    @classmethod
    def of_codes(cls, codes: np.ndarray, levels: list[int]) -> Gram | None:
        """The Gram of ``one_hot`` of the columns of ``codes`` (levels[b] levels each; 0 and
        -1 have no dummy) from a few joint tables of the categoricals, each one bincount over
        the rows instead of a sparse product: the categoricals go into groups of at most
        ``GROUP_CELLS`` combined cells, and every pair of groups gets one joint count table.
        None when a joint table would be too large (a categorical with thousands of levels)."""
        groups = _groups_of(levels)
        cells = [_cells(codes, levels, group) for group in groups]
        sizes = [int(np.prod([levels[b] for b in group])) for group in groups]
        pairs = [sizes[x] * sizes[y] for x in range(len(sizes)) for y in range(x + 1, len(sizes))]
        if max(pairs, default=sizes[0]) > JOINT_CELLS:
            return None
        tables: dict[tuple[int, int], np.ndarray] = {}
        for x in range(len(groups)):
            for y in range(x, len(groups)):
                if x == y and len(groups) > 1:
                    continue  # a group's own pairs come from any of its joint tables
                key = cells[x] * sizes[y] + cells[y] if x != y else cells[x]
                joint = np.bincount(key, minlength=sizes[x] * (sizes[y] if x != y else 1))
                shape = [levels[b] for b in groups[x]] + (
                    [levels[b] for b in groups[y]] if x != y else []
                )
                tables[(x, y)] = joint.reshape(shape)
        return _assemble(groups, levels, tables)


GROUP_CELLS = 2048
JOINT_CELLS = 1 << 22


def _groups_of(levels: list[int]) -> list[list[int]]:
    """Categoricals in order, grouped while the product of their levels stays small."""
    groups: list[list[int]] = [[]]
    for b, size in enumerate(levels):
        product = int(np.prod([levels[c] for c in groups[-1]])) if groups[-1] else 1
        if groups[-1] and product * size > GROUP_CELLS:
            groups.append([])
        groups[-1].append(b)
    return groups


def _cells(codes: np.ndarray, levels: list[int], group: list[int]) -> np.ndarray:
    """Each row's combined cell of the group's categoricals (mixed radix, first is slowest)."""
    cell = np.zeros(codes.shape[0], dtype=np.int64)
    for b in group:
        cell = cell * levels[b] + np.maximum(codes[:, b], 0)
    return cell


def _marginal(table: np.ndarray, keep: tuple[int, ...]) -> np.ndarray:
    return table.sum(axis=tuple(i for i in range(table.ndim) if i not in keep))


def _pair_tables(groups, levels, tables) -> dict[tuple[int, int], np.ndarray]:
    """Counts of rows by (level of a, level of b) for every a <= b (by level of a when a == b),
    each joint table reduced once per categorical, not once per pair."""
    out: dict[tuple[int, int], np.ndarray] = {}
    own: dict[int, np.ndarray] = {}
    for (x, y), table in tables.items():
        nx = len(groups[x])
        if x == y:
            own[x] = table
            continue
        own.setdefault(x, _marginal(table, tuple(range(nx))))
        own.setdefault(y, _marginal(table, tuple(range(nx, table.ndim))))
        flat_y = table.reshape(*table.shape[:nx], -1)
        for i, a in enumerate(groups[x]):
            by_a = _marginal(flat_y, (i, nx)).reshape(levels[a], *table.shape[nx:])
            for j, b in enumerate(groups[y]):
                out[(a, b)] = _marginal(by_a, (0, j + 1))
    for x, table in own.items():
        for i, a in enumerate(groups[x]):
            out[(a, a)] = _marginal(table, (i,))
            for j in range(i + 1, len(groups[x])):
                out[(a, groups[x][j])] = _marginal(table, (i, j))
    return out


def _assemble(groups, levels, tables) -> Gram:
    """Dummy columns as ``one_hot`` lays them out: level l >= 1 of categorical b."""
    pairs = _pair_tables(groups, levels, tables)
    present = [b for b, size in enumerate(levels) if size > 1]
    offsets = dict(zip(present, np.cumsum([0] + [levels[b] - 1 for b in present]), strict=False))
    p = sum(levels[b] - 1 for b in present)
    cross, sums = np.zeros((p, p)), np.zeros(p)
    for a in present:
        oa, counts = offsets[a], pairs[(a, a)][1:]
        sums[oa : oa + len(counts)] = counts
        cross[oa : oa + len(counts), oa : oa + len(counts)] = np.diag(counts)
        for b in present:
            if b > a:
                ob, block = offsets[b], pairs[(a, b)][1:, 1:]
                cross[oa : oa + block.shape[0], ob : ob + block.shape[1]] = block
                cross[ob : ob + block.shape[1], oa : oa + block.shape[0]] = block.T
    return Gram(cross, sums)


@dataclass(frozen=True)
class Normal:
    """What a fit needs of its rows before its coefficients are known: Z'Z, Z'y, rows and
    clients. Additive over parts of the rows that share no client."""

    ztz: np.ndarray
    zty: np.ndarray
    n: int
    n_groups: int

    def __add__(self, other: Normal) -> Normal:
        groups = self.n_groups + other.n_groups
        return Normal(self.ztz + other.ztz, self.zty + other.zty, self.n + other.n, groups)


@dataclass(frozen=True)
class Solved:
    """A fit's coefficients, solved from the normal equations of all its rows."""

    normal: Normal
    beta: np.ndarray
    bread: np.ndarray
    rank: int  # the absorbed client effects count as one
    identified: np.ndarray  # per treatment column


def solve(normal: Normal | None, k: int, absorbed: bool = False) -> Solved | None:
    """The coefficients, as ``fit_ols`` solves them; None when the rows cannot identify a
    model (fewer than two clients, or no more rows than parameters)."""
    if normal is None or normal.n_groups < 2 or normal.n <= normal.ztz.shape[0]:
        return None
    bread, rank = linalg.pinvh(normal.ztz, rtol=RANK_RTOL, return_rank=True)
    rank += int(absorbed)
    if normal.n <= rank:
        return None
    identified = np.abs(np.diag(bread @ normal.ztz)[:k] - 1) < 1e-6
    return Solved(normal, bread @ normal.zty, bread, rank, identified)


def finish(solved: Solved | None, normal: Normal | None, k: int, meat: np.ndarray) -> Fit:
    """The fit from its solution and its CR1 meat's diagonal on the treatment columns (the
    per-client scores squared, summed over every part of the rows)."""
    if solved is None:
        return _empty(k, 0, 0) if normal is None else _empty(k, normal.n, normal.n_groups)
    n, n_groups = normal.n, normal.n_groups
    scale = n_groups / (n_groups - 1) * (n - 1) / (n - solved.rank)
    se = np.sqrt(np.clip(scale * meat, 0, None))
    ok = solved.identified
    return Fit(np.where(ok, solved.beta[:k], np.nan), np.where(ok, se, np.nan), n, n_groups)


def _empty(k: int, n: int, n_groups: int) -> Fit:
    return Fit(np.full(k, np.nan), np.full(k, np.nan), n, n_groups)


def _client_meat(projected: np.ndarray, resid: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Sum over clients of their scores squared, each row's score projected on the treatment
    rows of the bread (``u_g = sum_i e_i z_i' B[:, :k]``, G x k)."""
    scores = projected * resid[:, None]
    u = np.column_stack([np.bincount(g, weights=scores[:, j]) for j in range(scores.shape[1])])
    return np.einsum("gj,gj->j", u, u)


# -- crude: y on t and an intercept, from per-client sums -------------------------------------
def _client_sums(y: np.ndarray, t: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, ...]:
    sizes = np.bincount(g)
    return sizes, *(np.bincount(g, weights=w, minlength=sizes.size) for w in (t, y, t * t, t * y))


def crude_normal(y: np.ndarray, t: np.ndarray, g: np.ndarray) -> Normal | None:
    if len(y) == 0:
        return None
    sizes, s_t, s_y, s_tt, s_ty = _client_sums(y, t, g)
    ztz = np.array([[s_tt.sum(), s_t.sum()], [s_t.sum(), float(len(y))]])
    zty = np.array([s_ty.sum(), s_y.sum()])
    return Normal(ztz, zty, len(y), int(np.count_nonzero(sizes)))


def crude_meat(solved: Solved, y: np.ndarray, t: np.ndarray, g: np.ndarray) -> np.ndarray:
    if len(y) == 0:
        return np.zeros(1)
    sizes, s_t, s_y, s_tt, s_ty = _client_sums(y, t, g)
    (b, a), bread = solved.beta, solved.bread
    # Each client's scores (sum t*e, sum e), projected on the slope's row of the bread.
    u = (s_ty - b * s_tt - a * s_t) * bread[0, 0] + (s_y - b * s_t - a * sizes) * bread[1, 0]
    return np.array([float(u @ u)])


def fit_crude(y: np.ndarray, t: np.ndarray, g: np.ndarray) -> Fit:
    """``fit_ols(y, t, <no covariates>, g)``: y on t and an intercept, from per-client sums."""
    normal = crude_normal(y, t, g)
    solved = solve(normal, 1)
    return finish(solved, normal, 1, crude_meat(solved, y, t, g) if solved else np.zeros(1))


# -- adjusted: treatments, held-fixed columns and the confounders' dummies ---------------------
def adjusted_normal(
    y: np.ndarray, x: np.ndarray, covariates: sp.csr_matrix, gram: Gram, g: np.ndarray
) -> Normal | None:
    """Z'Z and Z'y for Z = [x, covariates, 1], with ``gram`` = ``Gram.of(covariates)``."""
    n = x.shape[0]
    if n == 0:
        return None
    dx = np.asarray(covariates.T @ x)
    xs = x.sum(axis=0)
    ztz = np.block(
        [
            [x.T @ x, dx.T, xs[:, None]],
            [dx, gram.cross, gram.sums[:, None]],
            [xs[None, :], gram.sums[None, :], np.array([[float(n)]])],
        ]
    )
    zty = np.concatenate([x.T @ y, covariates.T @ y, [y.sum()]])
    return Normal(ztz, zty, n, _groups(g))


def adjusted_meat(
    solved: Solved, k: int, y: np.ndarray, x: np.ndarray, covariates: sp.csr_matrix, g
) -> np.ndarray:
    if len(y) == 0:
        return np.zeros(k)
    m, p = x.shape[1], covariates.shape[1]

    def times(v: np.ndarray) -> np.ndarray:
        return x @ v[:m] + covariates @ v[m : m + p] + v[m + p]

    return _client_meat(times(solved.bread[:, :k]), y - times(solved.beta), g)


def fit_adjusted(
    y: np.ndarray, x: np.ndarray, k: int, covariates: sp.csr_matrix, gram: Gram, g: np.ndarray
) -> Fit:
    """``fit_ols(y, x, covariates, g)`` for the first k columns of x (the rest held fixed),
    with ``gram`` = ``Gram.of(covariates)`` computed once for these rows."""
    normal = adjusted_normal(y, x, covariates, gram, g)
    solved = solve(normal, k)
    meat = adjusted_meat(solved, k, y, x, covariates, g) if solved else np.zeros(k)
    return finish(solved, normal, k, meat)


# -- within-client: client effects absorbed ----------------------------------------------------
def _groups(g: np.ndarray) -> int:
    return int(np.count_nonzero(np.bincount(g)))


def _columns(x: np.ndarray, strata: sp.csr_matrix) -> np.ndarray:
    """``[x, strata]`` dense and in column order: the per-client sums and the products read it
    a column at a time (with a row-ordered ``hstack`` this took twice as long at 1M rows)."""
    m = x.shape[1]
    z = np.zeros((x.shape[0], m + strata.shape[1]), order="F")
    z[:, :m] = x
    if not strata.has_canonical_format:
        strata = strata.copy()
        strata.sum_duplicates()
    cells = strata.tocoo()
    z[cells.row, m + cells.col] = cells.data
    return z


@dataclass(frozen=True)
class Within:
    """The rows of clients with more than one, as the within fit sees them."""

    y: np.ndarray
    z: np.ndarray  # [x, strata]
    g: np.ndarray
    sizes: np.ndarray  # rows per client

    @classmethod
    def of(cls, y: np.ndarray, x: np.ndarray, strata: sp.csr_matrix, g: np.ndarray) -> Within:
        keep = np.flatnonzero(np.bincount(g)[g] > 1) if len(g) else np.zeros(0, dtype=np.int64)
        g = g[keep]
        return cls(y[keep], _columns(x[keep], strata[keep]), g, np.bincount(g))

    def normal(self) -> Normal | None:
        """The within transformation applied to the normal equations."""
        if len(self.y) == 0:
            return None
        z, y, g = self.z, self.y, self.g
        ctz = np.column_stack([np.bincount(g, weights=z[:, j]) for j in range(z.shape[1])])
        cty = np.bincount(g, weights=y)
        present = self.sizes > 0
        inv = np.where(present, 1 / np.where(present, self.sizes, 1), 0.0)
        ztz = z.T @ z - ctz.T @ (ctz * inv[:, None])
        zty = z.T @ y - ctz.T @ (cty * inv)
        return Normal(ztz, zty, len(y), int(np.count_nonzero(self.sizes)))

    def meat(self, solved: Solved, k: int) -> np.ndarray:
        if len(self.y) == 0:
            return np.zeros(k)
        resid = self.y - self.z @ solved.beta
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.bincount(self.g, weights=resid, minlength=self.sizes.size) / self.sizes
        resid -= means[self.g]
        return _client_meat(self.z @ solved.bread[:, :k], resid, self.g)


def fit_within(y: np.ndarray, x: np.ndarray, k: int, strata: sp.csr_matrix, g: np.ndarray) -> Fit:
    """``fit_ols(y, x, strata, g, absorb_clusters=True)``: one effect per client (clients with
    a single row dropped), the within transformation applied to the normal equations."""
    rows = Within.of(y, x, strata, g)
    normal = rows.normal()
    solved = solve(normal, k, absorbed=True)
    return finish(solved, normal, k, rows.meat(solved, k) if solved else np.zeros(k))
