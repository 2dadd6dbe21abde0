"""Disclosure control for the researcher-facing aggregates: the k-rule, with complementary
suppression so that overlapping aggregates cannot be subtracted to recover a hidden cell.

Every count in a research mart is a cell: the interviews of some group (a tactic arm in a
segment, a timing bin, a stage, a month, ...). A row is suppressed when any of its counts comes
from 1 to k-1 distinct clients (zero is published: it names nobody). Suppression is per row:
all its counts and every figure computed from them (rates, intervals, p- and q-values) become
null and ``is_suppressed`` is true, so a rate can never be multiplied back into a count.

Rows of one *family* add up to a total that is published elsewhere (the stage rows of a tactic
add up to its ``all`` row; the months of ``trends_by_month`` add up to every interview). A family
with exactly one suppressed row would give it away by subtraction, so a second row is suppressed
too: the smallest sibling that itself has at least k clients (the pair's sum then says nothing
about either cell). This repeats until every family has zero or at least two suppressed rows.
The tests check the result against every linear relation that holds between the published tables.

Pure functions: ``client_counts(mart, fct)`` (LazyFrame -> LazyFrame) and ``suppressed(...)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.linalg

from pipelines.core.settings import K_DEFAULT
from pipelines.insights.effects import TACTICS
from pipelines.insights.marts import concern_rows, rapport_group, timing_group
from pipelines.insights.rounds import tactic_flag
from pipelines.release.slices import key_ranges, slice_count
from warehouse.publish import SUPPRESSED


@dataclass(frozen=True)
class Cells:
    """How a mart's rows are identified, which columns are counts, and how rows add up."""

    keys: tuple[str, ...]
    counts: tuple[str, ...]
    # Columns whose values name a family of rows that add up to a total; None = no family,
    # ALL_ROWS (empty) = the whole table is one family.
    family: tuple[str, ...] | None
    # Kept when a row is suppressed (they describe the row, not the people in it).
    descriptive: tuple[str, ...] = ()


ALL_ROWS: tuple[str, ...] = ()

# The estimate tables: each row names its contrast; its segment rows add up to its `all` row.
ESTIMATE_TABLES = {"tactic_estimates": "tactic", "hypothesis_tests": "hypothesis"}
_ESTIMATE_DESCRIPTIVE = ("estimand", "method", "segment_kind", "compares", "family")
# Count columns of the estimate tables, and the distinct clients behind each (the tables carry
# them: the estimators know their arms).
ESTIMATE_CLIENTS = {
    "n_treated": "n_clients_treated",
    "n_control": "n_clients_control",
    "n_clients": "n_clients",
}

CELLS: dict[str, Cells] = {
    **{
        mart: Cells(
            (id_column, "estimand", "method", "segment"),
            tuple(ESTIMATE_CLIENTS),
            (id_column, "estimand", "method", "segment_kind"),
            _ESTIMATE_DESCRIPTIVE,
        )
        for mart, id_column in ESTIMATE_TABLES.items()
    },
    "offer_rate_by_timing": Cells(("timing_bin",), ("n", "offers"), ALL_ROWS, ("bin_order",)),
    "offer_rate_by_rapport": Cells(("rapport_before_ask",), ("n", "offers"), ALL_ROWS),
    "perception_gap": Cells(("self_rating",), ("n", "offers"), ALL_ROWS),
    "objections": Cells(
        ("concern", "concerns_addressed"),
        ("n", "offers", "next_rounds", "rejections", "advanced"),
        ("concern",),
    ),
    "warm_prospects": Cells(
        ("tactic",), ("n_with", "n_without", "referrals_with", "referrals_without"), None
    ),
    "funnel_by_stage": Cells(
        ("stage",),
        (
            "interviews",
            "decided",
            "offers",
            "next_rounds",
            "rejections",
            "withdrawals",
            "no_responses",
            "pending",
            "advanced",
        ),
        ALL_ROWS,
        ("stage_order",),
    ),
    "trends_by_month": Cells(("month",), ("interviews", "asked", "decided", "offers"), ALL_ROWS),
}


def _clients(when: pl.Expr | None = None) -> pl.Expr:
    key = pl.col("client_key")
    return (key if when is None else key.filter(when.fill_null(False))).n_unique()


def _decided(fct: pl.LazyFrame) -> pl.LazyFrame:
    return fct.filter(pl.col("is_decided"))


def _offer_cells(lf: pl.LazyFrame, *keys: str) -> pl.LazyFrame:
    return lf.group_by(*keys).agg(n=_clients(), offers=_clients(pl.col("got_offer")))


def _warm_cells(fct: pl.LazyFrame) -> pl.LazyFrame:
    non_offers = _decided(fct).filter(~pl.col("got_offer"))
    referred = pl.col("got_referral")
    return pl.concat(
        [
            non_offers.select(
                pl.lit(t).alias("tactic"),
                n_with=_clients(tactic_flag(t).eq(True)),
                n_without=_clients(tactic_flag(t).eq(False)),
                referrals_with=_clients(tactic_flag(t).eq(True) & referred),
                referrals_without=_clients(tactic_flag(t).eq(False) & referred),
            )
            for t in TACTICS
        ]
    )


def _outcome(name: str) -> pl.Expr:
    return pl.col("outcome") == name


def estimate_clients(mart: str, table: pl.DataFrame) -> pl.DataFrame:
    """The estimate tables' own distinct-client counts, named after the counts they stand
    behind (the shape ``client_counts`` gives for the other marts)."""
    keys = CELLS[mart].keys
    return table.select(*keys, *(pl.col(c).alias(n) for n, c in ESTIMATE_CLIENTS.items()))


def client_counts(mart: str, fct: pl.LazyFrame) -> pl.LazyFrame:
    """Per row of ``mart`` (its key columns), the number of distinct clients behind each count
    (not for the estimate tables: see ``estimate_clients``)."""
    if mart == "offer_rate_by_timing":
        return _offer_cells(_decided(fct).with_columns(timing_group()), "timing_bin")
    if mart == "offer_rate_by_rapport":
        return _offer_cells(_decided(fct).with_columns(rapport_group()), "rapport_before_ask")
    if mart == "perception_gap":
        return _offer_cells(_decided(fct), "self_rating")
    if mart == "objections":
        return (
            concern_rows(fct)
            .group_by("concern", "concerns_addressed")
            .agg(
                n=_clients(),
                offers=_clients(pl.col("got_offer")),
                next_rounds=_clients(_outcome("next_round")),
                rejections=_clients(_outcome("rejected")),
                advanced=_clients(pl.col("got_offer") | _outcome("next_round")),
            )
        )
    if mart == "warm_prospects":
        return _warm_cells(fct)
    if mart == "funnel_by_stage":
        return fct.group_by("stage").agg(
            interviews=_clients(),
            decided=_clients(pl.col("is_decided")),
            offers=_clients(_outcome("offer")),
            next_rounds=_clients(_outcome("next_round")),
            rejections=_clients(_outcome("rejected")),
            withdrawals=_clients(_outcome("withdrawn")),
            no_responses=_clients(_outcome("no_response")),
            pending=_clients(~pl.col("is_decided")),
            advanced=_clients(_outcome("offer") | _outcome("next_round")),
        )
    if mart == "trends_by_month":
        return (
            fct.with_columns(pl.col("interview_date").dt.truncate("1mo").alias("month"))
            .group_by("month")
            .agg(
                interviews=_clients(),
                asked=_clients(pl.col("asked_fit_question")),
                decided=_clients(pl.col("is_decided")),
                offers=_clients(pl.col("got_offer")),
            )
        )
    raise KeyError(f"no disclosure rule for mart {mart!r}")


def _client_counts(tables: dict[str, pl.DataFrame], fct: pl.LazyFrame) -> dict[str, pl.DataFrame]:
    """``client_counts`` of every mart in ``tables``, read a slice of clients at a time: a
    client's interviews are all in one slice, so the slices' distinct clients add up."""
    out = {m: estimate_clients(m, t) for m, t in tables.items() if m in ESTIMATE_TABLES}
    marts = [m for m in tables if m not in ESTIMATE_TABLES]
    parts: dict[str, list[pl.DataFrame]] = {m: [] for m in marts}
    for inside in key_ranges("client_key", slice_count(fct)) if marts else []:
        piece = fct.filter(inside)  # one read of the slice serves every mart
        counted = pl.collect_all([client_counts(m, piece) for m in marts])
        for m, counts in zip(marts, counted, strict=True):
            parts[m].append(counts)
    for m in marts:
        keys, counts = list(CELLS[m].keys), pl.concat(parts[m])
        out[m] = counts.group_by(keys, maintain_order=True).agg(
            pl.col(c).sum().cast(counts.schema[c]) for c in counts.columns if c not in keys
        )
    return out


def _primary(clients: pl.DataFrame, cells: Cells, k: int) -> pl.Series:
    small = pl.any_horizontal((pl.col(c) > 0) & (pl.col(c) < k) for c in cells.counts)
    return clients.select(small.fill_null(False)).to_series()


def _equations(mart: str, table: pl.DataFrame, cells: Cells) -> list[list[int]]:
    """Row sets that add up to a published (or derivable) total: each is one linear relation."""
    if cells.family is None:
        return []
    if not cells.family:
        return [list(range(table.height))]
    labels = table.select(
        pl.concat_str([pl.col(c).cast(pl.String) for c in cells.family], separator="|",
                      ignore_nulls=True)
    ).to_series().to_list()  # fmt: skip
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    if mart not in ESTIMATE_TABLES:
        return list(groups.values())
    # A contrast's `all` row is the total of its stage rows, of its seniority rows, of its firms.
    kinds = table.get_column("segment_kind").to_list()
    contrast = (
        table.select(pl.concat_str(ESTIMATE_TABLES[mart], "estimand", "method", separator="|"))
        .to_series()
        .to_list()
    )
    total = {c: i for i, (c, kd) in enumerate(zip(contrast, kinds, strict=True)) if kd == "all"}
    return [
        [total[contrast[rows[0]]], *rows]
        for rows in groups.values()
        if kinds[rows[0]] != "all" and contrast[rows[0]] in total
    ]


def suppression_flags(
    mart: str, table: pl.DataFrame, clients: pl.DataFrame, k: int, *, complementary: bool = True
) -> pl.Series:
    """Which rows of ``table`` to suppress (primary k-rule, then complementary)."""
    cells = CELLS[mart]
    joined = table.select(cells.keys).join(
        clients.select(*cells.keys, *cells.counts), on=list(cells.keys), how="left",
        nulls_equal=True, maintain_order="left",
    ).with_columns(pl.col(c).fill_null(0) for c in cells.counts)  # fmt: skip
    flags = _primary(joined, cells, k).to_list()
    equations = _equations(mart, table, cells) if complementary else []
    size = joined.get_column(cells.counts[0]).to_list()
    changed = True
    while changed:
        changed = False
        for rows in equations:
            hidden = [i for i in rows if flags[i]]
            shown = [i for i in rows if not flags[i]]
            if len(hidden) != 1 or not shown:
                continue
            # A partner with >= k clients, so the pair's sum does not bound the hidden cell < k.
            big = [i for i in shown if size[i] >= k]
            partner = min(big or shown, key=lambda i: (size[i], i))
            flags[partner] = True
            changed = True
    return pl.Series(SUPPRESSED, flags, dtype=pl.Boolean)


Cell = tuple[str, int, str]  # (mart, row, count column)


def linear_relations(tables: dict[str, pl.DataFrame]) -> list[dict[Cell, int]]:
    """Linear relations between the research marts' counts that anyone can write down from what
    the tables mean (each: coefficients that sum to zero). Candidates only: the caller keeps
    those that hold on the data."""

    def rows(mart: str, where: pl.Expr | None = None) -> list[int]:
        t = tables[mart].with_row_index("_i")
        return (t if where is None else t.filter(where)).get_column("_i").to_list()

    def total(mart: str, col: str, sign: int = 1, where: pl.Expr | None = None) -> dict:
        return {(mart, i, col): sign for i in rows(mart, where)}

    rels: list[dict[Cell, int]] = []
    rates = ("offer_rate_by_timing", "offer_rate_by_rapport", "perception_gap")
    shared = {  # the same total, summed over different tables
        "decided": [("funnel_by_stage", "decided"), ("trends_by_month", "decided")]
        + [(m, "n") for m in rates],
        "offers": [(m, "offers") for m in ("funnel_by_stage", "trends_by_month", *rates)],
        "interviews": [("funnel_by_stage", "interviews"), ("trends_by_month", "interviews")],
    }
    for group in shared.values():
        first = total(*group[0])
        rels += [first | total(m, c, -1) for m, c in group[1:]]
    for mart in ESTIMATE_TABLES:
        rels += _estimate_relations(tables, mart, rows, total)
    for i in rows("warm_prospects"):
        rels.append(
            {("warm_prospects", i, "n_with"): 1, ("warm_prospects", i, "n_without"): 1}
            | total("funnel_by_stage", "decided", -1)
            | total("funnel_by_stage", "offers", 1)
        )
    f = "funnel_by_stage"
    for i in rows(f):
        outcomes = ("offers", "next_rounds", "rejections", "withdrawals", "no_responses")
        rels.append({(f, i, "interviews"): 1, (f, i, "decided"): -1, (f, i, "pending"): -1})
        rels.append({(f, i, "decided"): 1} | {(f, i, c): -1 for c in outcomes})
        rels.append({(f, i, "advanced"): 1, (f, i, "offers"): -1, (f, i, "next_rounds"): -1})
    return rels


def _estimate_relations(tables, mart: str, rows, total) -> list[dict[Cell, int]]:
    """Candidates within an estimate table (segments add up to `all`; rows of one contrast and
    segment share counts across methods and estimands) and against the funnel (every
    analysable round of the asked-any contrast is a decided, non-withdrawn interview)."""
    id_column = ESTIMATE_TABLES[mart]
    t = tables[mart]
    rels: list[dict[Cell, int]] = []
    for key in t.select(id_column, "estimand", "method").unique().iter_rows():
        same = (
            (pl.col(id_column) == key[0])
            & (pl.col("estimand") == key[1])
            & (pl.col("method") == key[2])
        )
        for top in rows(mart, same & (pl.col("segment") == "all")):
            for kind in ("stage", "seniority", "firm"):
                members = rows(mart, same & (pl.col("segment_kind") == kind))
                for col in ("n_treated", "n_control"):
                    rels.append({(mart, top, col): 1} | {(mart, i, col): -1 for i in members})
    for _key, group in t.with_row_index("_i").group_by(id_column, "segment"):
        ids = group.get_column("_i").to_list()
        for b in ids[1:]:
            rels += [{(mart, ids[0], c): 1, (mart, b, c): -1} for c in CELLS[mart].counts]
    if mart == "tactic_estimates" and "funnel_by_stage" in tables:
        rels += _rounds_against_funnel(tables, total)
    return rels


def _rounds_against_funnel(tables, total) -> list[dict[Cell, int]]:
    """The asked-any contrast's two arms hold every analysable round: the funnel's decided,
    non-withdrawn interviews, overall and per stage (exact when nothing is inferred or left
    out for hindsight; kept only where it holds)."""
    mart, rels = "tactic_estimates", []
    verdicts = ("offers", "next_rounds", "rejections", "no_responses")
    asked = (pl.col("tactic") == "asked_fit_question") & (pl.col("estimand") == "advance")
    t = tables[mart].with_row_index("_i").filter(asked)
    for i, segment in t.select("_i", "segment").iter_rows():
        if segment == "all":
            where = None
        elif segment.startswith("stage="):
            where = pl.col("stage") == segment.removeprefix("stage=")
        else:
            continue
        rel = {(mart, i, "n_treated"): 1, (mart, i, "n_control"): 1}
        for col in verdicts:
            rel |= total("funnel_by_stage", col, -1, where)
        rels.append(rel)
    return rels


def recoverable(
    tables: dict[str, pl.DataFrame], hidden: dict[str, list[bool]], relations: list[dict]
) -> list[Cell]:
    """Hidden cells that the shown cells and ``relations`` pin down to one value: those whose
    unit vector lies in the row space of the relations restricted to the hidden cells (i.e. is
    orthogonal to their null space). The system splits into independent blocks (hidden cells
    linked by shared relations), solved one at a time: each is small."""
    found: list[Cell] = []
    for cells, rows in _blocks(hidden, relations):
        index = {c: j for j, c in enumerate(cells)}
        a = np.zeros((len(rows), len(cells)))
        for i, r in enumerate(rows):
            for c, coef in r.items():
                if c in index:
                    a[i, index[c]] = coef
        # gesvd: slower than the default gesdd, but gesdd fails to converge on some of these
        # 0/±1 systems.
        null = scipy.linalg.null_space(a, lapack_driver="gesvd")
        found += [c for c, j in index.items() if np.linalg.norm(null[j]) < 1e-9]
    return sorted(found)


def _blocks(hidden: dict[str, list[bool]], relations: list[dict]):
    """Connected groups of hidden cells (two cells are linked when a relation holds both),
    each with the relations that touch it."""
    parent: dict[Cell, Cell] = {}

    def root(c: Cell) -> Cell:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    touching = []
    for r in relations:
        unknown = [c for c in r if hidden[c[0]][c[1]]]
        if not unknown:
            continue
        touching.append((r, unknown[0]))
        for c in unknown:
            parent.setdefault(c, c)
        for c in unknown[1:]:
            parent[root(c)] = root(unknown[0])
    cells: dict[Cell, list[Cell]] = {}
    for c in parent:
        cells.setdefault(root(c), []).append(c)
    rows: dict[Cell, list[dict]] = {}
    for r, first in touching:
        rows.setdefault(root(first), []).append(r)
    for key in sorted(cells):
        yield sorted(cells[key]), rows[key]


def _value(tables: dict[str, pl.DataFrame], cell: Cell) -> int:
    mart, row, col = cell
    return tables[mart].get_column(col)[row]


def suppress_marts(
    tables: dict[str, pl.DataFrame], fct: pl.LazyFrame, k: int = K_DEFAULT
) -> dict[str, pl.DataFrame]:
    """Every research mart with the k-rule applied jointly: primary and per-family suppression,
    then more rows until no relation between the published tables recovers a hidden cell."""
    if k < 1:
        raise ValueError("k must be at least 1")
    clients = _client_counts(tables, fct)
    flags = {m: suppression_flags(m, t, clients[m], k).to_list() for m, t in tables.items()}
    size = {
        m: t.select(CELLS[m].keys)
        .join(clients[m], on=list(CELLS[m].keys), how="left", nulls_equal=True,
              maintain_order="left")
        .get_column(CELLS[m].counts[0]).fill_null(0).to_list()
        for m, t in tables.items()
    }  # fmt: skip
    relations = [
        r
        for r in linear_relations(tables)
        if all(_value(tables, c) is not None for c in r)
        and sum(coef * _value(tables, c) for c, coef in r.items()) == 0
    ]
    by_cell: dict[Cell, list[dict]] = {}
    for r in relations:
        for c in r:
            by_cell.setdefault(c, []).append(r)
    forced: set[Cell] = set()  # pinned by hidden cells alone: publishing adds nothing
    while leaks := [c for c in recoverable(tables, flags, relations) if c not in forced]:
        # One partner per leaking row per round, then check again: a null space per hidden row
        # would cost minutes where small data hides most rows.
        done: set[tuple[str, int]] = set()
        for leak in leaks:
            if leak[:2] in done:
                continue
            shown = _shown_rows_linked_to(leak, by_cell, flags)
            if not shown:
                forced.add(leak)
                continue
            big = [c for c in shown if size[c[0]][c[1]] >= k]
            m, i = min(big or shown, key=lambda c: (size[c[0]][c[1]], c))
            flags[m][i] = True
            done.add(leak[:2])
    return {m: _apply(m, t, flags[m]) for m, t in tables.items()}


def _shown_rows_linked_to(
    cell: Cell, by_cell: dict[Cell, list[dict]], flags: dict[str, list[bool]]
) -> set[tuple[str, int]]:
    """Shown rows in the relations that reach ``cell`` through hidden cells: hiding one of
    them adds an unknown to the system that pins the cell down."""
    seen, frontier, shown = {cell}, [cell], set()
    while frontier:
        current = frontier.pop()
        for r in by_cell.get(current, ()):
            for other in r:
                m, i, _c = other
                if not flags[m][i]:
                    shown.add((m, i))
                elif other not in seen:
                    seen.add(other)
                    frontier.append(other)
        if shown:
            return shown
    return shown


def _apply(mart: str, table: pl.DataFrame, flags: list[bool]) -> pl.DataFrame:
    cells = CELLS[mart]
    keep = set(cells.keys) | set(cells.descriptive)
    hide = pl.col(SUPPRESSED)
    return table.with_columns(pl.Series(SUPPRESSED, flags, dtype=pl.Boolean)).with_columns(
        pl.when(hide).then(None).otherwise(pl.col(c)).alias(c)
        for c in table.columns
        if c not in keep
    )


def suppressed(
    mart: str,
    table: pl.DataFrame,
    fct: pl.LazyFrame,
    k: int = K_DEFAULT,
    *,
    complementary: bool = True,
) -> pl.DataFrame:
    """One mart with the k-rule applied on its own (primary, then per-family)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    clients = _client_counts({mart: table}, fct)[mart]
    flags = suppression_flags(mart, table, clients, k, complementary=complementary)
    return _apply(mart, table, flags.to_list())
