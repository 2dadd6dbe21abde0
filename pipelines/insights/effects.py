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
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
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
from pipelines.insights.fits import Gram, fit_adjusted, fit_crude, fit_within
from pipelines.insights.rounds import KIND_COLUMNS, rounds, tactic_flag

T = TypeVar("T")

MIN_PER_ARM = 30
MIN_CLIENTS = 20
ALPHA = 0.05
METHODS = ("crude", "adjusted", "within_client")
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
# Data in numpy form, once per table
# -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Data:
    frame: pl.DataFrame  # the rounds
    clients: np.ndarray
    confounders: sp.csr_matrix
    within: sp.csr_matrix
    segments: list[tuple[str, str, np.ndarray]]
    confounder_codes: np.ndarray  # n x len(CONFOUNDERS), what ``confounders`` one-hot codes
    confounder_levels: list[int]
    # Results computed once for both tables, by whichever thread asks first: a hypothesis
    # that restates a tactic fits the same models, and contrasts on the same rows share the
    # confounders' Gram.
    _shared: dict[tuple, Future] = field(default_factory=dict, repr=False)
    _shared_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def once(self, key: tuple, compute: Callable[[], T]) -> T:
        """``compute()``'s result, computed on the first call with ``key``; a later call
        (from either table's thread) waits for it."""
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


def dense_codes(frame: pl.DataFrame, column: str) -> np.ndarray:
    """0-based codes of the values in sorted order (the dense rank), -1 for null. Text goes
    through an Enum of its sorted distinct values: ranking a million strings sorts them all."""
    values = frame.get_column(column)
    if values.dtype == pl.String:
        levels = values.drop_nulls().unique().sort()
        codes = values.cast(pl.Enum(levels.to_list())).to_physical()
        return codes.cast(pl.Int64).fill_null(-1).to_numpy()
    return values.rank("dense").fill_null(0).cast(pl.Int64).to_numpy() - 1


def _segment_values(frame: pl.DataFrame, column: str, preferred: tuple[str, ...]) -> list[str]:
    seen = set(frame.get_column(column).drop_nulls().unique().to_list())
    return [*preferred, *sorted(seen - set(preferred))]


def _segments(
    frame: pl.DataFrame, kinds: tuple[str, ...] = SEGMENT_KINDS
) -> list[tuple[str, str, np.ndarray]]:
    out = [("all", "all", np.ones(frame.height, dtype=bool))]
    for kind, column, preferred in (
        ("stage", "stage", spec.STAGES),
        ("seniority", "seniority", spec.SENIORITIES),
        ("firm", "firm_id", ()),
    ):
        if kind not in kinds:
            continue
        values = frame.get_column(column)  # compared in Polars: numpy compares objects
        for value in _segment_values(frame, column, preferred):
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
        | {*CONFOUNDERS, *WITHIN_CLIENT_STRATA, *SORT_KEYS, "application_key", "seniority"}
        | {"round_number", "round_status", "outcome", "advanced"}
    )


SORT_KEYS = ("firm_id", "client_key", "interview_key")


def prepare(fct: pl.LazyFrame, segment_kinds: tuple[str, ...] = SEGMENT_KINDS) -> Data:
    # A fixed row order makes every floating-point sum, and so every figure, the same whatever
    # order the interviews come in (an incremental build must equal a full one bit for bit).
    frame = rounds(fct).select(_read_columns()).sort(SORT_KEYS).collect()
    n = frame.height
    codes = np.column_stack([dense_codes(frame, c) for c in CONFOUNDERS])
    return Data(
        frame=frame,
        clients=dense_codes(frame.with_columns(pl.concat_str("firm_id", "client_key")), "firm_id"),
        confounders=one_hot(list(codes.T), n),
        confounder_codes=codes,
        confounder_levels=[int(c.max()) + 1 if n else 0 for c in codes.T],
        within=one_hot([dense_codes(frame, c) for c in WITHIN_CLIENT_STRATA], n),
        segments=_segments(frame, segment_kinds),
    )


# -------------------------------------------------------------------------------------------
# One contrast: every method x segment
# -------------------------------------------------------------------------------------------
def _values(data: Data, exprs) -> np.ndarray:
    """Columns of 0/1 floats, NaN where null."""
    cols = data.frame.select(e.cast(pl.Float64).alias(f"_{i}") for i, e in enumerate(exprs))
    return cols.to_numpy().astype(float)


def _counts(t: np.ndarray, clients: np.ndarray) -> tuple[int, ...]:
    """Rows treated, rows control, clients; clients treated, clients control."""
    treated, control = t == 1, t == 0

    def distinct(codes: np.ndarray) -> int:
        return int(np.count_nonzero(np.bincount(codes))) if codes.size else 0

    return (
        int(treated.sum()),
        int(control.sum()),
        distinct(clients),
        distinct(clients[treated]),
        distinct(clients[control]),
    )


def _informative_clients(t: np.ndarray, clients: np.ndarray) -> int:
    """Clients with rounds in both arms: the only ones a within-client comparison uses."""
    if not clients.size:
        return 0
    treated = np.bincount(clients, weights=t)
    size = np.bincount(clients)
    return int(((treated > 0) & (treated < size)).sum())


def _fit(data: Data, method: str, y, t, held, rows, parts=()) -> list[Fit]:
    g = data.clients[rows]
    if method == "crude":
        return [fit_crude(y, t[:, j], g) for j in range(t.shape[1])]
    x, k = np.column_stack([t, held]), t.shape[1]
    if method == "adjusted":
        fit = fit_adjusted(y, x, k, data.confounders[rows], data.gram(rows, parts), g)
    else:
        fit = fit_within(y, x, k, data.within[rows], g)
    return [
        Fit(fit.coef[j : j + 1], fit.std_error[j : j + 1], fit.n, fit.n_clusters) for j in range(k)
    ]


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


def _contrast_rows(data: Data, c: Contrast) -> Iterator[tuple[str, str, str, str, Estimate]]:
    """(id, method, segment_kind, segment, estimate) for every advance/referral row; a
    contrast with the same model as one already fitted on ``data`` reuses its fits."""
    for j, method, kind, segment, est in data.once(_model_key(c), lambda: _fitted(data, c)):
        yield c.ids[j], method, kind, segment, est


def _model_key(c: Contrast) -> tuple:
    """What a contrast's fits depend on (everything but its ids)."""
    exprs = (*c.treatments, c.population)
    return (
        "contrast",
        tuple(None if e is None else e.meta.serialize(format="json") for e in exprs),
        c.held_fixed,
        c.outcome,
    )


def _fitted(data: Data, c: Contrast) -> list[tuple[int, str, str, str, Estimate]]:
    """(treatment index, method, segment_kind, segment, estimate) for every row."""
    t_all = _values(data, c.treatments)
    held_all = _values(data, [pl.col(h) for h in c.held_fixed]) if c.held_fixed else None
    y_all = data.frame.get_column(c.outcome).cast(pl.Float64).to_numpy()
    population = pl.repeat(True, pl.len()) if c.population is None else c.population
    base = data.frame.select(population.fill_null(False)).to_series().to_numpy().copy()
    base &= ~np.isnan(y_all) & ~np.isnan(t_all).any(axis=1)
    stages = _partition(base, [mask for kind, _, mask in data.segments if kind == "stage"])
    out = []
    for kind, segment, seg_mask in data.segments:
        rows = base & seg_mask
        y, t, g = y_all[rows], t_all[rows], data.clients[rows]
        held = held_all[rows] if held_all is not None else np.empty((len(y), 0))
        counts = [_counts(t[:, j], g) for j in range(len(c.ids))]  # the same for every method
        for method in METHODS:
            fits = _fit(data, method, y, t, held, rows, stages if kind == "all" else ())
            for j in range(len(c.ids)):
                enough = min(counts[j][:2]) >= MIN_PER_ARM and counts[j][2] >= MIN_CLIENTS
                if method == "within_client":
                    enough &= _informative_clients(t[:, j], g) >= MIN_CLIENTS
                f = fits[j]
                row = _row(f.coef[0], f.std_error[0], f.dof, counts[j], enough)
                out.append((j, method, kind, segment, Estimate(row, f)))
    return out


# -------------------------------------------------------------------------------------------
# Applications
# -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Rounds:
    """The columns every round profile reads, in numpy form once per table."""

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


@dataclass(frozen=True)
class _SegmentRounds:
    """A segment's analysable rounds by round number: what every tactic's profile on the
    segment shares (computed once per segment, not once per tactic)."""

    rows: np.ndarray
    number: np.ndarray  # the rows' 0-based round numbers
    total: np.ndarray
    advance: np.ndarray
    share: np.ndarray

    @classmethod
    def of(cls, all_rounds: _Rounds, rows: np.ndarray) -> _SegmentRounds:
        r, adv, offer = all_rounds.number[rows], all_rounds.advanced[rows], all_rounds.offer[rows]
        size = int(r.max()) + 1 if r.size else 0
        total = np.bincount(r, minlength=size).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            advance = np.bincount(r, weights=adv, minlength=size) / total
            advanced = np.bincount(r, weights=adv, minlength=size)
            share = np.bincount(r, weights=offer.astype(float), minlength=size) / advanced
        return cls(rows, r, total, advance, np.where(advanced > 0, share, 1.0))

    def profile(self, t: np.ndarray, in_pop: np.ndarray) -> RoundProfile:
        """Per round number: advance rate, the gap do(T=1)/do(T=0) opens, and the offer
        share, over the segment's analysable rounds."""
        r, size = self.number, self.total.size
        tt = np.where(in_pop[self.rows], t[self.rows], np.nan)
        pop = ~np.isnan(tt)
        with np.errstate(invalid="ignore", divide="ignore"):
            up = np.bincount(r[pop], weights=1 - tt[pop], minlength=size) / self.total
            down = np.bincount(r[pop], weights=-tt[pop], minlength=size) / self.total
        seen = self.total > 0
        return RoundProfile(self.advance[seen], up[seen], down[seen], self.share[seen])


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
    clients = dense_codes(apps.with_columns(pl.concat_str("firm_id", "client_key")), "firm_id")
    return apps.with_columns(pl.Series("_client", clients))


def _dense(codes: np.ndarray) -> np.ndarray:
    """Codes renumbered 0.. in the same order, without the gaps: the dense rank."""
    if not codes.size:
        return codes
    present = np.bincount(codes) > 0
    return (np.cumsum(present) - 1)[codes]


def _application_crude(
    apps: pl.DataFrame, cid: str, kinds: tuple[str, ...]
) -> Iterator[tuple[str, str, Estimate]]:
    """Applications where the tactic was used in any round vs never."""
    apps = apps.filter(pl.col(f"_in_pop:{cid}"))
    # The codes of the clients left, as ``dense_codes`` would number them.
    clients = _dense(apps.get_column("_client").to_numpy())
    used = apps.get_column(f"_used:{cid}").cast(pl.Float64).to_numpy()
    y = apps.get_column("_offer").cast(pl.Float64).to_numpy()
    for kind, segment, mask in _application_segments(apps, kinds):
        f = fit_crude(y[mask], used[mask], clients[mask])
        counts = _counts(used[mask], clients[mask])
        enough = min(counts[:2]) >= MIN_PER_ARM and counts[2] >= MIN_CLIENTS
        yield kind, segment, Estimate(_row(f.coef[0], f.std_error[0], f.dof, counts, enough))


def _application_segments(apps: pl.DataFrame, kinds: tuple[str, ...]):
    return _segments(apps, tuple(k for k in kinds if k != "stage"))


def _application_rows(
    data: Data,
    c: Contrast,
    advance: dict[tuple[str, str, str], Estimate],
    apps: pl.DataFrame,
    segment_rounds: dict[str, _SegmentRounds],
) -> Iterator[tuple[str, str, str, str, Estimate]]:
    t_all = _values(data, c.treatments)
    kinds = tuple(dict.fromkeys(k for k, _, _ in data.segments))
    for j, cid in enumerate(c.ids):
        t = t_all[:, j]
        for kind, segment, est in _application_crude(apps, cid, kinds):
            yield cid, "crude", kind, segment, est
        in_pop = ~np.isnan(t)
        for kind, segment, _ in data.segments:
            if kind == "stage":
                continue
            profile = segment_rounds[segment].profile(t, in_pop)
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
        lambda df: _tactic_table(prepare(df.lazy(), segment_kinds)),
        schema=TACTIC_SCHEMA,
        streamable=False,
    )


# The fits' products are tall and skinny (a million rows by a few columns): OpenBLAS splitting
# them over threads made them several times slower on 2 cores, most of all beside other work.
_ONE_BLAS_THREAD = threadpool_limits.wrap(limits=1, user_api="blas")


@_ONE_BLAS_THREAD
def _tactic_table(data: Data) -> pl.DataFrame:
    items, advance = [], {}
    for c in TACTIC_CONTRASTS:
        for cid, method, kind, segment, est in _contrast_rows(data, c):
            advance[(cid, method, segment)] = est
            items.append((cid, method, kind, segment, est, "advance"))
    rows = _records("tactic", items, COMPARES)
    apps = _applications(
        data,
        tuple(cid for c in TACTIC_CONTRASTS for cid in c.ids),
        _values(data, [t for c in TACTIC_CONTRASTS for t in c.treatments]),
    )
    all_rounds = _Rounds.of(data.frame)
    analysable = ~np.isnan(all_rounds.advanced)
    segment_rounds = {
        segment: _SegmentRounds.of(all_rounds, analysable & mask)
        for kind, segment, mask in data.segments
        if kind != "stage"
    }
    app_items = [
        (*item, "application_offer")
        for c in TACTIC_CONTRASTS
        for item in _application_rows(data, c, advance, apps, segment_rounds)
    ]
    rows += _records("tactic", app_items, COMPARES_APPLICATION)
    order = {t: i for i, t in enumerate(TACTICS)}
    return _finish(rows, TACTIC_SCHEMA).sort(
        pl.col("tactic").replace_strict(order), "estimand", maintain_order=True
    )


def hypothesis_tests(
    fct: pl.LazyFrame, segment_kinds: tuple[str, ...] = SEGMENT_KINDS
) -> pl.LazyFrame:
    """``marts.hypothesis_tests`` from ``fct_interviews`` (see the module docstring)."""
    return fct.map_batches(
        lambda df: _hypothesis_table(prepare(df.lazy(), segment_kinds)),
        schema=HYPOTHESIS_SCHEMA,
        streamable=False,
    )


@_ONE_BLAS_THREAD
def _hypothesis_table(data: Data) -> pl.DataFrame:
    items = [
        (cid, method, kind, segment, est, c.estimand)
        for c in HYPOTHESIS_CONTRASTS
        for cid, method, kind, segment, est in _contrast_rows(data, c)
    ]
    rows = _records("hypothesis", items, COMPARES)
    for row in rows:
        row["n"] = row["n_treated"] + row["n_control"]
    return _finish(rows, HYPOTHESIS_SCHEMA)


ESTIMATE_MARTS = ("tactic_estimates", "hypothesis_tests")


def estimate_tables(
    fct: pl.DataFrame, segment_kinds: tuple[str, ...] = SEGMENT_KINDS
) -> dict[str, pl.DataFrame]:
    """Both estimate marts from one preparation of the rounds (only the ``all`` rows with
    ``segment_kinds=("all",)``)."""
    return estimates_from(prepare(fct.lazy(), segment_kinds))


@_ONE_BLAS_THREAD  # for both threads: the limit is the process's, restored when both are done
def estimates_from(data: Data) -> dict[str, pl.DataFrame]:
    """Both estimate marts from prepared rounds (what the build calls, having let go of
    ``fct``): the tables share their row sets, and so the confounders' Gram matrices, and a
    hypothesis that restates a tactic shares its fits.

    The two tables are computed side by side, the hypotheses on a second thread: most of a
    fit's time is spent in numpy, scipy and Polars with the GIL released (at 1M on 2 cores,
    13.9 -> 10.1 s). Each table's figures are the same as computed alone."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sealdeal-estimates") as pool:
        hypotheses = pool.submit(_hypothesis_table, data)
        tactics = _tactic_table(data)
        return dict(zip(ESTIMATE_MARTS, (tactics, hypotheses.result()), strict=True))
