"""``marts.tactic_estimates`` and ``marts.hypothesis_tests``: which tactics go with getting past
a round, by three methods side by side, with errors clustered by client.

Unit and outcome (``pipelines.insights.rounds``): one analysable round; ``advanced`` = the employer
let the client past it (offer or next round) vs did not (rejected, no response). Withdrawn and
pending rounds, and rounds whose every debrief was written after the outcome, are left out.

Methods (every one a linear probability model, ``pipelines.insights.estimators.fit_ols``, CR1 errors
clustered by client, t with G-1 degrees of freedom):

``crude``
    Difference in advance rates, with vs without. Nothing held fixed.
``adjusted``
    Regression adjustment for the recorded confounders — round, stage, seniority, industry
    group, experience band, firm, role group, interviewer role, month — and the other question
    kinds. Removes what those fields explain, nothing that no field records.
``within_client``
    Client fixed effects: compares a client's own rounds with and without, holding round
    number, stage and the other question kinds fixed. Robust to whatever about a client does
    not change during their search (skill, savvy, confidence).

The three question kinds are fitted jointly (each holds the other two fixed) except in
``crude``; ``asked_fit_question`` (any kind) is reported apart from its parts.

``application_offer`` (tactics only): the chance that an application ends in an offer when the
tactic is used in every round vs in none, composed from the method's per-round effect by the
sequential model in ``pipelines.insights.estimators`` (delta-method errors). Its ``crude`` row is
the plain comparison of applications where the tactic was used in any round vs never: biased by
construction (longer applications have more rounds to ask in), shown only as that.

Multiple testing: each table's ``segment = 'all'`` rows are its confirmatory family; each
segment kind (stage, seniority, firm) of each table is an exploratory family of its own.
Benjamini-Hochberg within the family; ``is_finding`` = enough data and q < 0.05.

Computation (``pipelines.insights.fits``): everything a fit needs of its rows is a sum over
clients, so the rounds can be read a part of the clients at a time (``estimates_in_parts``):
once to sum the normal equations and the counts, once more, with the coefficients solved, to
sum the CR1 meat. The figures equal those of one pass to rounding (the sums are added part by
part); the same parts always give the same figures bit for bit.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy import stats as sps
from threadpoolctl import threadpool_limits

from pipelines.core import spec
from pipelines.insights import stats
from pipelines.insights.estimators import (
    Fit,
    RoundProfile,
    application_offer_effect,
    one_hot,
)
from pipelines.insights.fits import (
    Gram,
    Normal,
    Solved,
    Within,
    adjusted_meat,
    adjusted_normal,
    crude_meat,
    crude_normal,
    finish,
    solve,
)
from pipelines.insights.rounds import (
    GROUPED,
    KIND_COLUMNS,
    label_counts,
    rounds,
    status_counts,
    status_table,
    tactic_flag,
)

T = TypeVar("T")

MIN_PER_ARM = 30
MIN_CLIENTS = 20
ALPHA = 0.05
METHODS = ("crude", "adjusted", "within_client")
ESTIMATE_MARTS = ("tactic_estimates", "hypothesis_tests")
ESTIMANDS = ("advance", "application_offer")
SEGMENT_KINDS = ("all", "stage", "seniority", "firm")
TACTICS = ("asked_fit_question", *KIND_COLUMNS, "addressed_concerns")
HYPOTHESES = (
    "ask_late",
    "rapport_first",
    "address_objections",
    "self_rating_predicts",
    "warm_prospects",
)
CONFOUNDERS = (
    "round_stratum",
    "stage",
    "seniority",
    "industry_group",
    "experience_band",
    "firm_id",
    "role_group",
    "interviewer_role",
    "month",
)
WITHIN_CLIENT_STRATA = ("round_stratum", "stage")
KINDS = tuple(KIND_COLUMNS)


@dataclass(frozen=True)
class Contrast:
    """Treatments fitted jointly (one output row each); null = outside the population."""

    ids: tuple[str, ...]
    treatments: tuple[pl.Expr, ...]
    held_fixed: tuple[str, ...] = ()
    population: pl.Expr | None = None  # None: every analysable round
    outcome: str = "advanced"
    estimand: str = "advance"


def _asked(expr: pl.Expr) -> pl.Expr:
    return pl.when(pl.col("asked_fit_question")).then(expr)


TACTIC_CONTRASTS = (
    Contrast(("asked_fit_question",), (pl.col("asked_fit_question"),)),
    Contrast(KINDS, tuple(pl.col(k) for k in KINDS)),
    Contrast(
        ("addressed_concerns",),
        (tactic_flag("addressed_concerns"),),
        held_fixed=KINDS,
    ),
)
HYPOTHESIS_CONTRASTS = (
    Contrast(("ask_late",), (_asked(pl.col("asked_at_pct").is_between(65, 85)),), KINDS),
    Contrast(("rapport_first",), (_asked(pl.col("rapport_before_ask") >= 4),), KINDS),
    Contrast(("address_objections",), TACTIC_CONTRASTS[2].treatments, KINDS),
    Contrast(("self_rating_predicts",), (pl.col("self_rating") >= 4,), KINDS),
    Contrast(
        ("warm_prospects",),
        (pl.col("asked_about_concerns"),),
        held_fixed=("asked_about_ideal_candidate", "asked_how_compare"),
        population=pl.col("advanced").not_(),
        outcome="got_referral",
        estimand="referral",
    ),
)

COMPARES = {
    "crude": "rounds with vs without; nothing held fixed",
    "adjusted": (
        "rounds with vs without, adjusted for round, stage, seniority, industry, experience, "
        "firm, role, interviewer and month (and the other question kinds)"
    ),
    "within_client": (
        "the same client's rounds with vs without, same round and stage, other question kinds "
        "held fixed"
    ),
}
COMPARES_APPLICATION = {
    "crude": (
        "applications where it was used in any round vs never (biased: longer applications "
        "have more rounds to use it in)"
    ),
    "adjusted": "offer chance if used in every round vs none, from the adjusted per-round effect",
    "within_client": (
        "offer chance if used in every round vs none, from the within-client per-round effect"
    ),
}
ROW_SCHEMA = {
    "estimand": pl.String,
    "method": pl.String,
    "segment_kind": pl.String,
    "segment": pl.String,
    "compares": pl.String,
    "estimate": pl.Float64,
    "std_error": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "n_treated": pl.Int64,
    "n_control": pl.Int64,
    "n_clients": pl.Int64,
    "n_clients_treated": pl.Int64,
    "n_clients_control": pl.Int64,
    "p_value": pl.Float64,
    "q_value": pl.Float64,
    "family": pl.String,
    "is_finding": pl.Boolean,
    "enough_data": pl.Boolean,
}
COUNT_COLUMNS = ("n_treated", "n_control", "n_clients", "n_clients_treated", "n_clients_control")
TACTIC_SCHEMA = pl.Schema({"tactic": pl.String, **ROW_SCHEMA})
HYPOTHESIS_SCHEMA = pl.Schema({"hypothesis": pl.String, **ROW_SCHEMA, "n": pl.Int64})


# -------------------------------------------------------------------------------------------
# Data in numpy form, once per part of the rounds
# -------------------------------------------------------------------------------------------
# Segment kind -> its column and the values shown first.
SEGMENT_COLUMNS = {
    "stage": ("stage", spec.STAGES),
    "seniority": ("seniority", spec.SENIORITIES),
    "firm": ("firm_id", ()),
}
# Columns whose values every part codes alike: the confounders, the within strata, the segments.
CODED = tuple(dict.fromkeys((*CONFOUNDERS, *WITHIN_CLIENT_STRATA, "stage", "seniority", "firm_id")))
Levels = dict[str, pl.Series]  # column -> its distinct values, sorted, no null


def levels_of(frames: Iterable[pl.DataFrame]) -> Levels:
    """Every coded column's distinct values over all the parts."""
    seen: dict[str, list[pl.Series]] = {c: [] for c in CODED}
    for frame in frames:
        for column in CODED:
            seen[column].append(frame.get_column(column).drop_nulls().unique())
    return {c: pl.concat(values).unique().sort() for c, values in seen.items()}


@dataclass(frozen=True)
class Data:
    frame: pl.DataFrame  # the rounds (of one part of the clients, or all)
    clients: np.ndarray
    confounders: sp.csr_matrix
    within: sp.csr_matrix
    segments: list[tuple[str, str, np.ndarray]]  # the same list in every part
    confounder_codes: np.ndarray  # n x len(CONFOUNDERS), what ``confounders`` one-hot codes
    confounder_levels: list[int]
    # Results computed once per part for every contrast and thread that asks: contrasts on
    # the same rows share the confounders' Gram.
    _shared: dict[tuple, Future] = field(default_factory=dict, repr=False)
    _shared_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(
        cls,
        frame: pl.DataFrame,
        segment_kinds: tuple[str, ...] = SEGMENT_KINDS,
        levels: Levels | None = None,
    ) -> Data:
        """``frame`` (``prepared_rounds``) in numpy form; ``levels`` (``levels_of`` every
        part) codes a part as the whole (default: ``frame`` is the whole)."""
        levels = levels or levels_of([frame])
        n = frame.height
        codes = np.column_stack([dense_codes(frame, c, levels[c]) for c in CONFOUNDERS])
        confounder_levels = [len(levels[c]) for c in CONFOUNDERS]
        within = [dense_codes(frame, c, levels[c]) for c in WITHIN_CLIENT_STRATA]
        return cls(
            frame=frame,
            clients=_client_codes(frame),
            confounders=one_hot(list(codes.T), n, confounder_levels),
            confounder_codes=codes,
            confounder_levels=confounder_levels,
            within=one_hot(within, n, [len(levels[c]) for c in WITHIN_CLIENT_STRATA]),
            segments=_segments(frame, segment_kinds, levels),
        )

    def once(self, key: tuple, compute: Callable[[], T]) -> T:
        """``compute()``'s result, computed on the first call with ``key``; a later call
        (from either thread) waits for it."""
        with self._shared_lock:
            future, first = self._shared.get(key), key not in self._shared
            if first:
                future = self._shared[key] = Future()
        if first:
            try:
                future.set_result(compute())
            except BaseException as error:
                future.set_exception(error)
                raise
        return future.result()

    def gram(self, rows: np.ndarray, parts: tuple[np.ndarray, ...] = ()) -> Gram:
        """The confounders' Gram on ``rows``, once per set of rows (contrasts on the same rows
        share it); summed from those of ``parts`` when given (disjoint, non-empty, at least
        two, covering ``rows``: counts, so the sum is exact and the parts' Grams serve their
        segments too; each part is smaller than ``rows``, so no Gram waits on itself)."""
        key = ("gram", hashlib.blake2b(np.packbits(rows).tobytes(), digest_size=16).digest())
        return self.once(key, lambda: self._gram(rows, parts))

    def _gram(self, rows: np.ndarray, parts: tuple[np.ndarray, ...]) -> Gram:
        if parts:
            grams = [self.gram(part) for part in parts]
            return Gram(sum(g.cross for g in grams), sum(g.sums for g in grams))
        gram = Gram.of_codes(self.confounder_codes[rows], self.confounder_levels)
        return gram or Gram.of(self.confounders[rows])


def _client_codes(frame: pl.DataFrame) -> np.ndarray:
    return dense_codes(frame.with_columns(pl.concat_str("firm_id", "client_key")), "firm_id")


def dense_codes(frame: pl.DataFrame, column: str, levels: pl.Series | None = None) -> np.ndarray:
    """0-based codes of the values in sorted order (the dense rank), -1 for null; with
    ``levels`` (sorted distinct values, a superset of the column's), the rank among them.
    Text goes through an Enum of its sorted distinct values: ranking a million strings sorts
    them all."""
    values = frame.get_column(column)
    if values.dtype == pl.String:
        levels = values.drop_nulls().unique().sort() if levels is None else levels
        codes = values.cast(pl.Enum(levels.to_list())).to_physical()
        return codes.cast(pl.Int64).fill_null(-1).to_numpy()
    if levels is None:
        return values.rank("dense").fill_null(0).cast(pl.Int64).to_numpy() - 1
    missing = values.is_null().to_numpy()
    codes = np.searchsorted(levels.to_numpy(), values.fill_null(strategy="zero").to_numpy())
    return np.where(missing, -1, codes).astype(np.int64)


def _segment_values(seen: Iterable[str], preferred: tuple[str, ...]) -> list[str]:
    return [*preferred, *sorted(set(seen) - set(preferred))]


def _segments(
    frame: pl.DataFrame, kinds: tuple[str, ...], levels: Levels | None = None
) -> list[tuple[str, str, np.ndarray]]:
    """('all', 'all', every row), then a mask per value of each segment kind: the preferred
    values, then the others seen (in ``levels``, default ``frame``'s own) in sorted order."""
    out = [("all", "all", np.ones(frame.height, dtype=bool))]
    for kind, (column, preferred) in SEGMENT_COLUMNS.items():
        if kind not in kinds:
            continue
        values = frame.get_column(column)  # compared in Polars: numpy compares objects
        seen = (levels[column] if levels else values.drop_nulls().unique()).to_list()
        for value in _segment_values(seen, preferred):
            out.append((kind, f"{kind}={value}", (values == value).fill_null(False).to_numpy()))
    return out


def _read_columns() -> list[str]:
    """The columns of the rounds the estimates read: the sort gathers only these."""
    contrasts = (*TACTIC_CONTRASTS, *HYPOTHESIS_CONTRASTS)
    exprs = [e for c in contrasts for e in c.treatments if e is not None]
    exprs += [c.population for c in contrasts if c.population is not None]
    names = {name for e in exprs for name in e.meta.root_names()}
    names |= {h for c in contrasts for h in c.held_fixed} | {c.outcome for c in contrasts}
    return sorted(
        names
        | {*CODED, *SORT_KEYS, "application_key"}
        | {"round_number", "round_status", "outcome", "advanced"}
        | {"is_advance_inferred", "versions_after_outcome"}  # for ``status_counts``
    )


SORT_KEYS = ("firm_id", "client_key", "interview_key")


def prepared_rounds(
    fct: pl.LazyFrame, counts: Mapping[str, pl.LazyFrame] | None = None
) -> pl.DataFrame:
    """The rounds' columns the estimates read, in a fixed row order: it makes every
    floating-point sum, and so every figure, the same whatever order the interviews come in
    (an incremental build must equal a full one bit for bit). ``counts`` as in ``rounds``."""
    return rounds(fct, counts).select(_read_columns()).sort(SORT_KEYS).collect()


def prepare(fct: pl.LazyFrame, segment_kinds: tuple[str, ...] = SEGMENT_KINDS) -> Data:
    return Data.of(prepared_rounds(fct), segment_kinds)


def client_part(n_parts: int) -> pl.Expr:
    """Which of ``n_parts`` parts an interview's client falls in (every interview of a client
    in the same one, so each part's sums are over whole clients)."""
    return pl.struct("firm_id", "client_key").hash(seed=0) % n_parts


ROUND_MARTS = (*ESTIMATE_MARTS, "rounds_by_status")


def round_marts(fct: pl.LazyFrame, n_parts: int, folder: Path) -> dict[str, pl.DataFrame]:
    """The marts computed from the rounds (``ROUND_MARTS``), ``fct`` read a part of the
    clients at a time: each part's rounds are prepared once (labels grouped by the whole's
    counts) and kept in ``folder`` as Parquet for the estimates' two passes. One part: the
    rounds of every client, prepared once."""
    if n_parts <= 1:
        frame = prepared_rounds(fct)
        status = status_counts(frame.lazy()).collect()
        return {**estimates_from(Data.of(frame)), "rounds_by_status": _status(status)}
    counts = {label: label_counts(fct, label).collect().lazy() for label in GROUPED}
    paths, status = [], []
    for part in range(n_parts):
        paths.append(folder / f"rounds-{part}.parquet")
        frame = prepared_rounds(fct.filter(client_part(n_parts) == part), counts)
        frame.write_parquet(paths[-1], compression="uncompressed", statistics=False)
        status.append(status_counts(frame.lazy()).collect())
        del frame
    levels = levels_of(pl.read_parquet(path, columns=list(CODED)) for path in paths)

    def parts() -> Iterator[Data]:
        return (Data.of(pl.read_parquet(path), levels=levels) for path in paths)

    return {**estimates_over(parts), "rounds_by_status": _status(pl.concat(status))}


def _status(counts: pl.DataFrame) -> pl.DataFrame:
    return status_table(counts.lazy()).collect()


# -------------------------------------------------------------------------------------------
# One contrast: every method x segment, summed over parts of the clients
# -------------------------------------------------------------------------------------------
def _values(data: Data, exprs) -> np.ndarray:
    """Columns of 0/1 floats, NaN where null."""
    cols = data.frame.select(e.cast(pl.Float64).alias(f"_{i}") for i, e in enumerate(exprs))
    return cols.to_numpy().astype(float)


def _counts(t: np.ndarray, clients: np.ndarray) -> np.ndarray:
    """Rows treated, rows control, clients; clients treated, clients control (clients of
    different parts are different clients, so the counts of parts add up)."""
    treated, control = t == 1, t == 0

    def distinct(codes: np.ndarray) -> int:
        return int(np.count_nonzero(np.bincount(codes))) if codes.size else 0

    return np.array(
        [
            int(treated.sum()),
            int(control.sum()),
            distinct(clients),
            distinct(clients[treated]),
            distinct(clients[control]),
        ],
        dtype=np.int64,
    )


def _informative_clients(t: np.ndarray, clients: np.ndarray) -> int:
    """Clients with rounds in both arms: the only ones a within-client comparison uses."""
    if not clients.size:
        return 0
    treated = np.bincount(clients, weights=t)
    size = np.bincount(clients)
    return int(((treated > 0) & (treated < size)).sum())


@dataclass(frozen=True)
class _Segment:
    """One contrast's rows of one segment of a part."""

    kind: str
    name: str
    rows: np.ndarray
    parts: tuple[np.ndarray, ...]  # the rows by stage, whose Grams sum to theirs
    y: np.ndarray
    t: np.ndarray
    held: np.ndarray
    g: np.ndarray

    @property
    def x(self) -> np.ndarray:
        return np.column_stack([self.t, self.held])


def _segment_rows(data: Data, c: Contrast) -> Iterator[_Segment]:
    t_all = _values(data, c.treatments)
    held_all = _values(data, [pl.col(h) for h in c.held_fixed]) if c.held_fixed else None
    y_all = data.frame.get_column(c.outcome).cast(pl.Float64).to_numpy()
    population = pl.repeat(True, pl.len()) if c.population is None else c.population
    base = data.frame.select(population.fill_null(False)).to_series().to_numpy().copy()
    base &= ~np.isnan(y_all) & ~np.isnan(t_all).any(axis=1)
    stages = _partition(base, [mask for kind, _, mask in data.segments if kind == "stage"])
    for kind, name, seg_mask in data.segments:
        rows = base & seg_mask
        y, t = y_all[rows], t_all[rows]
        held = held_all[rows] if held_all is not None else np.empty((len(y), 0))
        parts = stages if kind == "all" else ()
        yield _Segment(kind, name, rows, parts, y, t, held, data.clients[rows])


def _normals(data: Data, method: str, s: _Segment) -> list[Normal | None]:
    """The normal equations of a method's fits on a segment: one per treatment for crude."""
    if method == "crude":
        return [crude_normal(s.y, s.t[:, j], s.g) for j in range(s.t.shape[1])]
    if method == "adjusted":
        gram = data.gram(s.rows, s.parts)
        return [adjusted_normal(s.y, s.x, data.confounders[s.rows], gram, s.g)]
    return [Within.of(s.y, s.x, data.within[s.rows], s.g).normal()]


def _solve(method: str, normals: list[Normal | None], k: int) -> list[Solved | None]:
    if method == "crude":
        return [solve(normal, 1) for normal in normals]
    return [solve(normals[0], k, absorbed=method == "within_client")]


def _meats(data: Data, method: str, s: _Segment, solved: list[Solved | None]) -> list[np.ndarray]:
    """Each fit's CR1 meat (diagonal, treatment columns) on a segment's rows."""
    k = s.t.shape[1]
    if method == "crude":
        return [
            crude_meat(fit, s.y, s.t[:, j], s.g) if fit else np.zeros(1)
            for j, fit in enumerate(solved)
        ]
    if solved[0] is None:
        return [np.zeros(k)]
    if method == "adjusted":
        return [adjusted_meat(solved[0], k, s.y, s.x, data.confounders[s.rows], s.g)]
    return [Within.of(s.y, s.x, data.within[s.rows], s.g).meat(solved[0], k)]


def _fits(method: str, k: int, normals: list, solved: list, meats: list[np.ndarray]) -> list[Fit]:
    """One single-column fit per treatment."""
    if method == "crude":
        return [finish(*fit, 1, meat) for *fit, meat in zip(solved, normals, meats, strict=True)]
    fit = finish(solved[0], normals[0], k, meats[0])
    return [
        Fit(fit.coef[j : j + 1], fit.std_error[j : j + 1], fit.n, fit.n_clusters) for j in range(k)
    ]


def _add(total: list | None, part: list) -> list:
    """Sums of parts' Normals (None: no rows) or meats, fit by fit."""
    if total is None:
        return part
    return [b if a is None else a if b is None else a + b for a, b in zip(total, part, strict=True)]


@dataclass
class _ModelSums:
    """What one model's fits need, summed over the parts of the clients: pass one sums the
    normal equations and counts, ``solve`` finds the coefficients, pass two sums the meats."""

    contrast: Contrast
    normals: dict[tuple[str, str], list] = field(default_factory=dict)
    counts: dict[str, np.ndarray] = field(default_factory=dict)  # segment -> k x 5
    informative: dict[str, np.ndarray] = field(default_factory=dict)
    solved: dict[tuple[str, str], list] = field(default_factory=dict)
    meats: dict[tuple[str, str], list] = field(default_factory=dict)

    def add_normals(self, data: Data) -> None:
        for s in _segment_rows(data, self.contrast):
            k = s.t.shape[1]
            counts = np.array([_counts(s.t[:, j], s.g) for j in range(k)])
            informative = np.array([_informative_clients(s.t[:, j], s.g) for j in range(k)])
            self.counts[s.name] = self.counts.get(s.name, 0) + counts
            self.informative[s.name] = self.informative.get(s.name, 0) + informative
            for method in METHODS:
                key = (s.name, method)
                self.normals[key] = _add(self.normals.get(key), _normals(data, method, s))

    def solve(self) -> None:
        k = len(self.contrast.ids)
        self.solved = {key: _solve(key[1], normals, k) for key, normals in self.normals.items()}

    def add_meats(self, data: Data) -> None:
        for s in _segment_rows(data, self.contrast):
            for method in METHODS:
                key = (s.name, method)
                meats = _meats(data, method, s, self.solved[key])
                self.meats[key] = _add(self.meats.get(key), meats)

    def estimates(self, segments) -> list[tuple[int, str, str, str, Estimate]]:
        """(treatment index, method, segment_kind, segment, estimate) for every row."""
        k, out = len(self.contrast.ids), []
        for kind, segment, _ in segments:
            counts = [tuple(int(v) for v in row) for row in self.counts[segment]]
            for method in METHODS:
                key = (segment, method)
                fits = _fits(method, k, self.normals[key], self.solved[key], self.meats[key])
                for j in range(k):
                    enough = min(counts[j][:2]) >= MIN_PER_ARM and counts[j][2] >= MIN_CLIENTS
                    if method == "within_client":
                        enough &= self.informative[segment][j] >= MIN_CLIENTS
                    f = fits[j]
                    row = _row(f.coef[0], f.std_error[0], f.dof, counts[j], bool(enough))
                    out.append((j, method, kind, segment, Estimate(row, f)))
        return out


@dataclass(frozen=True)
class Estimate:
    row: dict
    fit: Fit | None = None


def _row(est: float, se: float, dof: int, counts, enough: bool) -> dict:
    with np.errstate(invalid="ignore", divide="ignore"):
        half = sps.t.isf(ALPHA / 2, dof) * se
        p = 2 * sps.t.sf(abs(est / se), dof)
    ok = enough and np.isfinite(est) and np.isfinite(se)

    def value(v: float) -> float | None:
        return float(v) if ok else None

    n1, n0, clients, clients1, clients0 = counts
    return {
        "estimate": value(est),
        "std_error": value(se),
        "ci_low": value(est - half),
        "ci_high": value(est + half),
        "n_treated": n1,
        "n_control": n0,
        "n_clients": clients,
        "n_clients_treated": clients1,
        "n_clients_control": clients0,
        "p_value": value(p),
        "enough_data": enough,
    }


def _partition(rows: np.ndarray, masks: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """``rows`` split by the segments of one kind: the non-empty parts, or nothing when they
    leave some rows out or are fewer than two (one part would be ``rows`` itself)."""
    parts = tuple(p for p in (rows & mask for mask in masks) if p.any())
    covered = np.logical_or.reduce(parts) if parts else np.zeros_like(rows)
    return parts if len(parts) > 1 and np.array_equal(covered, rows) else ()


def _model_key(c: Contrast) -> tuple:
    """What a contrast's fits depend on (everything but its ids): a hypothesis that restates
    a tactic shares its fits."""
    exprs = (*c.treatments, c.population)
    return (
        "contrast",
        tuple(None if e is None else e.meta.serialize(format="json") for e in exprs),
        c.held_fixed,
        c.outcome,
    )


# -------------------------------------------------------------------------------------------
# Applications
# -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Rounds:
    """The columns every round profile reads, in numpy form once per part."""

    number: np.ndarray  # 0-based round number
    advanced: np.ndarray  # 1.0, 0.0, NaN
    offer: np.ndarray  # bool

    @classmethod
    def of(cls, frame: pl.DataFrame) -> _Rounds:
        return cls(
            frame.get_column("round_number").to_numpy() - 1,
            frame.get_column("advanced").cast(pl.Float64).to_numpy(),
            (frame.get_column("outcome") == "offer").fill_null(False).to_numpy(),
        )


def _padded_sum(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
    if a is None:
        return b
    size = max(a.size, b.size)
    return np.pad(a, (0, size - a.size)) + np.pad(b, (0, size - b.size))


@dataclass
class _RoundSums:
    """A segment's analysable rounds by round number, summed over parts: rounds, advances,
    offers, and per tactic the gap do(T=1)/do(T=0) opens (sums of 1 - t and of -t)."""

    total: np.ndarray | None = None
    advanced: np.ndarray | None = None
    offers: np.ndarray | None = None
    up: dict[str, np.ndarray] = field(default_factory=dict)
    down: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, rounds: _Rounds, rows: np.ndarray, tactics: dict[str, np.ndarray]) -> None:
        r, adv, offer = rounds.number[rows], rounds.advanced[rows], rounds.offer[rows]
        size = int(r.max()) + 1 if r.size else 0
        self.total = _padded_sum(self.total, np.bincount(r, minlength=size).astype(float))
        self.advanced = _padded_sum(self.advanced, np.bincount(r, weights=adv, minlength=size))
        self.offers = _padded_sum(
            self.offers, np.bincount(r, weights=offer.astype(float), minlength=size)
        )
        for cid, t in tactics.items():
            tt = t[rows]
            pop = ~np.isnan(tt)
            up = np.bincount(r[pop], weights=1 - tt[pop], minlength=size)
            down = np.bincount(r[pop], weights=-tt[pop], minlength=size)
            self.up[cid] = _padded_sum(self.up.get(cid), up)
            self.down[cid] = _padded_sum(self.down.get(cid), down)

    def profile(self, cid: str) -> RoundProfile:
        """Per round number: advance rate, the gap do(T=1)/do(T=0) opens, and the offer
        share, over the segment's analysable rounds."""
        total = self.total if self.total is not None else np.zeros(0)
        size = total.size
        advanced, offers = (np.pad(a, (0, size - a.size)) for a in (self.advanced, self.offers))
        up, down = (np.pad(a[cid], (0, size - a[cid].size)) for a in (self.up, self.down))
        with np.errstate(invalid="ignore", divide="ignore"):
            advance, share = advanced / total, offers / advanced
            up, down = up / total, down / total
        seen = total > 0
        share = np.where(advanced > 0, share, 1.0)
        return RoundProfile(advance[seen], up[seen], down[seen], share[seen])


def _applications(data: Data, ids: tuple[str, ...], t: np.ndarray) -> pl.DataFrame:
    """Closed, non-withdrawn applications: offer or not, and per tactic whether it was used in
    any round (``_used:<id>``) and whether any round was in its population (``_in_pop:<id>``):
    one group-by for every tactic; ``_client``: the client's code."""
    status = pl.col("round_status")
    flags = [pl.Series(f"_t:{cid}", t[:, j]).fill_nan(None) for j, cid in enumerate(ids)]
    columns = ("firm_id", "application_key", "client_key", "seniority", "round_number")
    apps = (
        data.frame.select(*columns, "outcome", "round_status", *flags)
        .group_by("firm_id", "application_key")
        .agg(
            pl.col("client_key").first(),
            pl.col("seniority").sort_by("round_number").first(),
            (pl.col("outcome") == "offer").any().alias("_offer"),
            (status == "not_advanced").any().alias("_lost"),
            (status == "withdrawn").any().alias("_withdrawn"),
            *[(pl.col(f"_t:{cid}") > 0).any().alias(f"_used:{cid}") for cid in ids],
            *[pl.col(f"_t:{cid}").is_not_null().any().alias(f"_in_pop:{cid}") for cid in ids],
        )
        .filter((pl.col("_offer") | pl.col("_lost")) & ~pl.col("_withdrawn"))
        .sort("firm_id", "application_key")
    )
    return apps.with_columns(pl.Series("_client", _client_codes(apps)))


def _dense(codes: np.ndarray) -> np.ndarray:
    """Codes renumbered 0.. in the same order, without the gaps: the dense rank."""
    if not codes.size:
        return codes
    present = np.bincount(codes) > 0
    return (np.cumsum(present) - 1)[codes]


def _application_segments(apps: pl.DataFrame, kinds: tuple[str, ...]):
    return _segments(apps, tuple(k for k in kinds if k != "stage"))


def _application_fits(
    apps: pl.DataFrame, segments: list, cid: str
) -> Iterator[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]]:
    """(kind, segment, offer, used, client) of the applications where the tactic could be
    used, per segment of the applications (``segments`` of all of them; a segment none of
    the tactic's applications fall in is left out unless its value is a preferred one)."""
    in_pop = apps.get_column(f"_in_pop:{cid}").to_numpy()
    # The codes of the clients left, as ``dense_codes`` would number them.
    clients = _dense(apps.get_column("_client").to_numpy()[in_pop])
    used = apps.get_column(f"_used:{cid}").cast(pl.Float64).to_numpy()[in_pop]
    y = apps.get_column("_offer").cast(pl.Float64).to_numpy()[in_pop]
    for kind, segment, mask in segments:
        mask = mask[in_pop]
        preferred = kind == "all" or segment.split("=", 1)[1] in SEGMENT_COLUMNS[kind][1]
        if preferred or mask.any():
            yield kind, segment, y[mask], used[mask], clients[mask]


@dataclass
class _ApplicationSums:
    """The tactics' application figures, summed over parts: the crude comparison of
    applications (normal equations, counts, then meats) and each segment's round sums."""

    contrasts: tuple[Contrast, ...]
    normals: dict[tuple[str, str], Normal | None] = field(default_factory=dict)
    counts: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)  # segment -> kind
    solved: dict[tuple[str, str], Solved | None] = field(default_factory=dict)
    meats: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    rounds: dict[str, _RoundSums] = field(default_factory=dict)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(cid for c in self.contrasts for cid in c.ids)

    def _apps(self, data: Data) -> tuple[pl.DataFrame, np.ndarray, list]:
        """The part's applications, their segments and the rounds' treatments (once per
        part: both passes read them)."""

        def compute() -> tuple[pl.DataFrame, np.ndarray, list]:
            t = _values(data, [t for c in self.contrasts for t in c.treatments])
            apps = _applications(data, self.ids, t)
            return apps, t, _application_segments(apps, _kinds(data))

        return data.once(("applications", self.ids), compute)

    def add_normals(self, data: Data) -> None:
        apps, t, segments = self._apps(data)
        for cid in self.ids:
            for kind, segment, y, used, g in _application_fits(apps, segments, cid):
                key = (cid, segment)
                self.segments[segment] = kind
                self.counts[key] = self.counts.get(key, 0) + _counts(used, g)
                (self.normals[key],) = _add([self.normals.get(key)], [crude_normal(y, used, g)])
        rounds = _Rounds.of(data.frame)
        analysable = ~np.isnan(rounds.advanced)
        tactics = {cid: t[:, j] for j, cid in enumerate(self.ids)}
        for kind, segment, mask in data.segments:
            if kind != "stage":
                self.rounds.setdefault(segment, _RoundSums()).add(
                    rounds, analysable & mask, tactics
                )

    def solve(self) -> None:
        self.solved = {key: solve(normal, 1) for key, normal in self.normals.items()}

    def add_meats(self, data: Data) -> None:
        apps, _, segments = self._apps(data)
        for cid in self.ids:
            for _, segment, y, used, g in _application_fits(apps, segments, cid):
                fit = self.solved[(cid, segment)]
                meat = crude_meat(fit, y, used, g) if fit else np.zeros(1)
                self.meats[(cid, segment)] = self.meats.get((cid, segment), 0) + meat

    def crude(self, cid: str) -> Iterator[tuple[str, str, Estimate]]:
        """Applications where the tactic was used in any round vs never."""
        for kind, segment in _ordered(self.segments):
            key = (cid, segment)
            f = finish(self.solved[key], self.normals[key], 1, self.meats[key])
            counts = tuple(int(v) for v in self.counts[key])
            enough = min(counts[:2]) >= MIN_PER_ARM and counts[2] >= MIN_CLIENTS
            yield kind, segment, Estimate(_row(f.coef[0], f.std_error[0], f.dof, counts, enough))


def _kinds(data: Data) -> tuple[str, ...]:
    return tuple(dict.fromkeys(kind for kind, _, _ in data.segments))


def _ordered(segments: dict[str, str]) -> list[tuple[str, str]]:
    """(kind, segment) as ``_segments`` orders them: 'all', then each kind's preferred values,
    then its others sorted."""

    def position(item: tuple[str, str]) -> tuple:
        segment, kind = item
        if kind == "all":
            return (-1, 0, "")
        _, preferred = SEGMENT_COLUMNS[kind]
        value = segment.split("=", 1)[1]
        rank = preferred.index(value) if value in preferred else len(preferred)
        return (list(SEGMENT_COLUMNS).index(kind), rank, value)

    return [(kind, segment) for segment, kind in sorted(segments.items(), key=position)]


def _application_rows(
    c: Contrast,
    advance: dict[tuple[str, str, str], Estimate],
    sums: _ApplicationSums,
    segments: list[tuple[str, str, np.ndarray]],
) -> Iterator[tuple[str, str, str, str, Estimate]]:
    for cid in c.ids:
        for kind, segment, est in sums.crude(cid):
            yield cid, "crude", kind, segment, est
        for kind, segment, _ in segments:
            if kind == "stage":
                continue
            profile = sums.rounds[segment].profile(cid)
            for method in METHODS[1:]:
                adv = advance[(cid, method, segment)]
                effect = adv.row["estimate"]
                eff, se = application_offer_effect(
                    profile, np.nan if effect is None else effect, adv.row["std_error"] or np.nan
                )
                counts = tuple(adv.row[c] for c in COUNT_COLUMNS)
                yield (
                    cid,
                    method,
                    kind,
                    segment,
                    Estimate(_row(eff, se, adv.fit.dof, counts, adv.row["enough_data"])),
                )


# -------------------------------------------------------------------------------------------
# Tables
# -------------------------------------------------------------------------------------------
def _finish(rows: list[dict], schema: pl.Schema) -> pl.DataFrame:
    """Families, BH q-values and findings on the finished rows."""
    derived = ("q_value", "family", "is_finding")
    frame = pl.DataFrame(rows, schema={k: v for k, v in schema.items() if k not in derived})
    family = (
        pl.when(pl.col("segment_kind") == "all")
        .then(pl.lit("confirmatory"))
        .otherwise(pl.lit("exploratory: ") + pl.col("segment_kind"))
    )
    frame = frame.with_columns(family.alias("family"), pl.int_range(pl.len()).alias("_i"))
    q = np.full(frame.height, np.nan)
    for part in frame.partition_by("family"):
        p = part.get_column("p_value").cast(pl.Float64).fill_null(np.nan).to_numpy()
        q[part.get_column("_i").to_numpy()] = stats.benjamini_hochberg(p)
    finding = (pl.col("enough_data") & (pl.col("q_value") < ALPHA)).fill_null(False)
    return (
        frame.with_columns(pl.Series("q_value", q).fill_nan(None))
        .with_columns(finding.alias("is_finding"))
        .select(schema.names())
        .cast(dict(schema))
    )


def _records(id_column: str, items: list, compares: dict[str, str]) -> list[dict]:
    return [
        {
            id_column: cid,
            "estimand": estimand,
            "method": method,
            "segment_kind": kind,
            "segment": segment,
            "compares": compares[method],
            **est.row,
        }
        for cid, method, kind, segment, est, estimand in items
    ]


def tactic_estimates(
    fct: pl.LazyFrame, segment_kinds: tuple[str, ...] = SEGMENT_KINDS
) -> pl.LazyFrame:
    """``marts.tactic_estimates`` from ``fct_interviews`` (see the module docstring); only the
    ``all`` rows with ``segment_kinds=("all",)`` (they do not depend on the others)."""
    return fct.map_batches(
        lambda df: _tables(df, segment_kinds, ("tactic_estimates",))["tactic_estimates"],
        schema=TACTIC_SCHEMA,
        streamable=False,
    )


def hypothesis_tests(
    fct: pl.LazyFrame, segment_kinds: tuple[str, ...] = SEGMENT_KINDS
) -> pl.LazyFrame:
    """``marts.hypothesis_tests`` from ``fct_interviews`` (see the module docstring)."""
    return fct.map_batches(
        lambda df: _tables(df, segment_kinds, ("hypothesis_tests",))["hypothesis_tests"],
        schema=HYPOTHESIS_SCHEMA,
        streamable=False,
    )


def _tactic_table(
    models: dict[tuple, _ModelSums], apps: _ApplicationSums, segments
) -> pl.DataFrame:
    items, advance = [], {}
    for c in TACTIC_CONTRASTS:
        for cid, method, kind, segment, est in _contrast_rows(models, c, segments):
            advance[(cid, method, segment)] = est
            items.append((cid, method, kind, segment, est, "advance"))
    rows = _records("tactic", items, COMPARES)
    app_items = [
        (*item, "application_offer")
        for c in TACTIC_CONTRASTS
        for item in _application_rows(c, advance, apps, segments)
    ]
    rows += _records("tactic", app_items, COMPARES_APPLICATION)
    order = {t: i for i, t in enumerate(TACTICS)}
    return _finish(rows, TACTIC_SCHEMA).sort(
        pl.col("tactic").replace_strict(order), "estimand", maintain_order=True
    )


def _hypothesis_table(models: dict[tuple, _ModelSums], segments) -> pl.DataFrame:
    items = [
        (cid, method, kind, segment, est, c.estimand)
        for c in HYPOTHESIS_CONTRASTS
        for cid, method, kind, segment, est in _contrast_rows(models, c, segments)
    ]
    rows = _records("hypothesis", items, COMPARES)
    for row in rows:
        row["n"] = row["n_treated"] + row["n_control"]
    return _finish(rows, HYPOTHESIS_SCHEMA)


def _contrast_rows(
    models: dict[tuple, _ModelSums], c: Contrast, segments
) -> Iterator[tuple[str, str, str, str, Estimate]]:
    """(id, method, segment_kind, segment, estimate) for every advance/referral row."""
    for j, method, kind, segment, est in models[_model_key(c)].estimates(segments):
        yield c.ids[j], method, kind, segment, est


def estimate_tables(
    fct: pl.DataFrame, segment_kinds: tuple[str, ...] = SEGMENT_KINDS
) -> dict[str, pl.DataFrame]:
    """Both estimate marts from one preparation of the rounds (only the ``all`` rows with
    ``segment_kinds=("all",)``)."""
    return _tables(fct, segment_kinds, ESTIMATE_MARTS)


def estimates_from(data: Data, tables: tuple[str, ...] = ESTIMATE_MARTS) -> dict[str, pl.DataFrame]:
    """The estimate marts from the prepared rounds of every client."""
    return estimates_over(lambda: iter([data]), tables)


def _tables(fct: pl.DataFrame, segment_kinds, tables: tuple[str, ...]) -> dict[str, pl.DataFrame]:
    return estimates_from(prepare(fct.lazy(), segment_kinds), tables)


# The fits' products are tall and skinny (a million rows by a few columns): OpenBLAS splitting
# them over threads made them several times slower on 2 cores, most of all beside other work.
@threadpool_limits.wrap(limits=1, user_api="blas")
def estimates_over(
    parts: Callable[[], Iterator[Data]], tables: tuple[str, ...] = ESTIMATE_MARTS
) -> dict[str, pl.DataFrame]:
    """The estimate marts from the rounds in parts of the clients (``parts()`` gives them,
    each ``Data.of`` with the levels of all; it is called twice): every sum a fit needs adds
    up over clients, so each part is read once to sum the normal equations and the counts,
    and once more, with the coefficients solved, to sum the errors' meat. Memory holds one
    part, not every round.

    Each part's models are fitted on two threads, the tactics' (and their applications') and
    the hypotheses' own: most of a fit's time is spent in numpy, scipy and Polars with the GIL
    released. A hypothesis that restates a tactic shares its fits."""
    tactics, hypotheses = (name in tables for name in ESTIMATE_MARTS)
    contrasts = (*TACTIC_CONTRASTS * tactics, *HYPOTHESIS_CONTRASTS * hypotheses)
    models = {_model_key(c): _ModelSums(c) for c in reversed(contrasts)}
    tactic_keys = {_model_key(c) for c in TACTIC_CONTRASTS} if tactics else set()
    apps = _ApplicationSums(TACTIC_CONTRASTS)
    first = [m for key, m in models.items() if key in tactic_keys] + [apps] * tactics
    second = [m for key, m in models.items() if key not in tactic_keys]
    segments = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sealdeal-estimates") as pool:
        for data in parts():
            segments = segments or data.segments
            _on_two_threads(pool, first, second, lambda m, d=data: m.add_normals(d))
        for model in first + second:
            model.solve()
        for data in parts():
            _on_two_threads(pool, first, second, lambda m, d=data: m.add_meats(d))
    out = {}
    if tactics:
        out["tactic_estimates"] = _tactic_table(models, apps, segments)
    if hypotheses:
        out["hypothesis_tests"] = _hypothesis_table(models, segments)
    return out


def _on_two_threads(pool: ThreadPoolExecutor, mine: list, theirs: list, work) -> None:
    other = pool.submit(lambda: [work(m) for m in theirs])
    try:
        for m in mine:
            work(m)
    finally:
        other.result()
