"""The k-rule on researcher-facing aggregates, and that no subtraction recovers a hidden cell."""

from __future__ import annotations

import itertools
from datetime import date

import duckdb
import numpy as np
import polars as pl
import pytest
import scipy.linalg

from pipelines.insights.marts import funnel_by_stage, trends_by_month
from pipelines.release import slices
from pipelines.release.disclosure import (
    CELLS,
    ESTIMATE_TABLES,
    SUPPRESSED,
    _client_counts,
    client_counts,
    suppress_marts,
    suppressed,
)
from warehouse import tables


def _fct(rows: list[tuple[str, str, str, bool]]) -> pl.LazyFrame:
    """Interviews as (client_key, stage, month, got_offer), all decided."""
    return pl.LazyFrame(
        {
            "client_key": [r[0] for r in rows],
            "firm_id": ["f"] * len(rows),
            "stage": [r[1] for r in rows],
            "interview_date": [date.fromisoformat(r[2] + "-15") for r in rows],
            "is_decided": [True] * len(rows),
            "got_offer": [r[3] for r in rows],
            "outcome": ["offer" if r[3] else "rejected" for r in rows],
            "asked_fit_question": [True] * len(rows),
        }
    )


def _clients(prefix: str, n: int, stage: str, month: str, offer_every: int = 2):
    return [(f"{prefix}{i}", stage, month, i % offer_every == 0) for i in range(n)]


def test_a_row_on_fewer_than_k_clients_is_suppressed_whatever_its_interview_count():
    # 3 clients with 4 interviews each: 12 interviews, still only 3 people.
    few = [(f"c{i}", "final", "2026-01", True) for i in range(3) for _ in range(4)]
    many = _clients("p", 40, "panel", "2026-01") + _clients("h", 40, "hiring_manager", "2026-01")
    fct = _fct(few + many)
    out = suppressed("funnel_by_stage", funnel_by_stage(fct).collect(), fct, k=5)
    final = out.filter(pl.col("stage") == "final").row(0, named=True)
    assert final[SUPPRESSED] is True
    assert final["interviews"] is None and final["offer_rate"] is None
    # ...and one more row goes with it, or the total minus the others would give it away.
    assert out.get_column(SUPPRESSED).sum() == 2


def test_exactly_k_clients_and_zero_are_published():
    fct = _fct(_clients("a", 5, "final", "2026-01", 1) + _clients("b", 40, "panel", "2026-01"))
    out = suppressed("funnel_by_stage", funnel_by_stage(fct).collect(), fct, k=5)
    # final: 5 clients, all offers (rejections 0): shown; nothing else is hidden.
    assert not out.get_column(SUPPRESSED).any()
    final = out.filter(pl.col("stage") == "final").row(0, named=True)
    assert (final["interviews"], final["rejections"]) == (5, 0)


def test_k_is_configurable():
    fct = _fct(_clients("a", 8, "final", "2026-01") + _clients("b", 40, "panel", "2026-01"))
    table = funnel_by_stage(fct).collect()
    assert not suppressed("funnel_by_stage", table, fct, k=3).get_column(SUPPRESSED).any()
    assert suppressed("funnel_by_stage", table, fct, k=10).get_column(SUPPRESSED).sum() == 2
    with pytest.raises(ValueError):
        suppressed("funnel_by_stage", table, fct, k=0)


def test_the_complementary_cell_is_the_smallest_sibling_with_at_least_k_clients():
    rows = (
        _clients("a", 2, "final", "2026-01")
        + _clients("z", 0, "x", "2026-02")
        + _clients("b", 9, "final", "2026-03")
        + _clients("c", 30, "final", "2026-04")
        + _clients("d", 60, "final", "2026-05")
    )
    fct = _fct(rows)
    out = suppressed("trends_by_month", trends_by_month(fct).collect(), fct, k=5)
    hidden = out.filter(pl.col(SUPPRESSED)).get_column("month").dt.month().to_list()
    assert hidden == [1, 3]


# ---- no subtraction recovers a suppressed cell -------------------------------------------------


def _marts(built_home):
    con = duckdb.connect(str(built_home.warehouse_path), read_only=True)
    try:
        fct = con.sql("SELECT * FROM marts.fct_interviews").pl()
        tables = {m: con.sql(f"SELECT * FROM marts.{m}").pl() for m in CELLS}
    finally:
        con.close()
    return fct.lazy(), tables


def _cell(table: pl.DataFrame, where: dict, col: str) -> tuple[int, str]:
    mask = pl.all_horizontal(pl.col(k) == v for k, v in where.items())
    idx = table.with_row_index("_i").filter(mask).get_column("_i").to_list()
    assert len(idx) == 1, (where, idx)
    return idx[0], col


def _relations(tables: dict[str, pl.DataFrame]) -> list[dict[tuple, int]]:
    """Linear relations between published counts an attacker could write down (coefficients on
    (mart, row, column)). Written from what the tables mean, independently of the suppression
    code; only the ones that hold exactly on the unsuppressed data are kept by the caller."""
    rels: list[dict[tuple, int]] = []

    def whole(mart: str, col: str, sign: int = 1, where=None) -> dict[tuple, int]:
        t = tables[mart].with_row_index("_i")
        if where is not None:
            t = t.filter(where)
        return {(mart, i, col): sign for i in t.get_column("_i").to_list()}

    for mart, id_column in (("tactic_estimates", "tactic"), ("hypothesis_tests", "hypothesis")):
        est = tables[mart].with_row_index("_i")
        # A contrast's segment rows of one kind add up to its `all` row.
        for _, rows in est.group_by(id_column, "estimand", "method"):
            (top,) = rows.filter(pl.col("segment") == "all").get_column("_i").to_list()
            for kind in ("stage", "seniority", "firm"):
                members = rows.filter(pl.col("segment_kind") == kind).get_column("_i")
                for c in ("n_treated", "n_control"):
                    rels.append({(mart, top, c): 1} | {(mart, i, c): -1 for i in members})
        # The methods (and estimands) of one contrast and segment count the same rows.
        for _, rows in est.group_by(id_column, "segment"):
            for a, b in itertools.combinations(rows.get_column("_i").to_list(), 2):
                for c in ("n_treated", "n_control", "n_clients"):
                    rels.append({(mart, a, c): 1, (mart, b, c): -1})
    # Asked or not, every analysable round is a decided, non-withdrawn interview.
    te = tables["tactic_estimates"].with_row_index("_i")
    asked = te.filter(pl.col("tactic") == "asked_fit_question", pl.col("estimand") == "advance")
    verdicts = ("offers", "next_rounds", "rejections", "no_responses")
    for i, segment in asked.select("_i", "segment").iter_rows():
        if segment == "all":
            where = None
        elif segment.startswith("stage="):
            where = pl.col("stage") == segment.removeprefix("stage=")
        else:
            continue
        rel = {("tactic_estimates", i, "n_treated"): 1, ("tactic_estimates", i, "n_control"): 1}
        for col in verdicts:
            rel |= whole("funnel_by_stage", col, -1, where)
        rels.append(rel)
    # Totals that several tables share.
    decided = [
        ("funnel_by_stage", "decided"),
        ("trends_by_month", "decided"),
        ("offer_rate_by_timing", "n"),
        ("offer_rate_by_rapport", "n"),
        ("perception_gap", "n"),
    ]
    offers = [("funnel_by_stage", "offers"), ("trends_by_month", "offers")]
    offers += [(m, "offers") for m in ("offer_rate_by_timing", "offer_rate_by_rapport")]
    offers += [("perception_gap", "offers")]
    interviews = [("funnel_by_stage", "interviews"), ("trends_by_month", "interviews")]
    for group in (decided, offers, interviews):
        for (m1, c1), (m2, c2) in itertools.combinations(group, 2):
            rels.append(whole(m1, c1) | whole(m2, c2, -1))
    wp = tables["warm_prospects"].with_row_index("_i")
    for i in wp.get_column("_i").to_list():
        rels.append(
            {("warm_prospects", i, "n_with"): 1, ("warm_prospects", i, "n_without"): 1}
            | whole("funnel_by_stage", "decided", -1)
            | whole("funnel_by_stage", "offers", 1)
        )
    # Inside a row.
    fun = tables["funnel_by_stage"]
    for i in range(fun.height):
        f = "funnel_by_stage"
        rels.append({(f, i, "interviews"): 1, (f, i, "decided"): -1, (f, i, "pending"): -1})
        rels.append({(f, i, "advanced"): 1, (f, i, "offers"): -1, (f, i, "next_rounds"): -1})
        parts = ("offers", "next_rounds", "rejections", "withdrawals", "no_responses")
        rels.append({(f, i, "decided"): 1} | {(f, i, p): -1 for p in parts})
    return rels


def _recoverable(truth, published, relations) -> list[tuple]:
    """Suppressed cells whose value the published numbers and the relations pin down."""

    def value(tables, key):
        mart, row, col = key
        return tables[mart].get_column(col)[row]

    holding = [r for r in relations if sum(c * value(truth, k) for k, c in r.items()) == 0]
    unknown = sorted(
        {k for r in holding for k in r if value(published, k) is None}, key=lambda k: str(k)
    )
    if not unknown:
        return []
    col = {k: j for j, k in enumerate(unknown)}
    a = np.zeros((len(holding), len(unknown)))
    for i, r in enumerate(holding):
        for k, c in r.items():
            if k in col:
                a[i, col[k]] = c
    # e_j lies in the row space of the relations (the cell is pinned down) exactly when it is
    # orthogonal to their null space: one SVD for every cell.
    null = scipy.linalg.null_space(a, lapack_driver="gesvd")
    return [k for k, j in col.items() if np.linalg.norm(null[j]) < 1e-9]


@pytest.mark.parametrize("k", [5, 40, 150])
def test_no_linear_combination_of_published_aggregates_recovers_a_suppressed_cell(built_home, k):
    fct, truth = _marts(built_home)
    published = suppress_marts(truth, fct, k)
    hidden = sum(int(t.get_column(SUPPRESSED).sum()) for t in published.values())
    relations = _relations(truth)
    if k > 5:  # the larger ks really do hide cells, so the check below has work to do
        assert hidden > 10
    assert _recoverable(truth, published, relations) == []


@pytest.mark.parametrize("source", ["polars", "duckdb"])
def test_clients_counted_a_slice_of_clients_at_a_time_add_up_to_the_whole(
    built_home, monkeypatch, source
):
    fct, truth = _marts(built_home)
    whole = {m: client_counts(m, fct).collect() for m in truth if m not in ESTIMATE_TABLES}
    published = suppress_marts(truth, fct, 40)
    monkeypatch.setattr(slices, "SLICE_ROUNDS", 50)
    assert slices.slice_count(fct) > 20
    con = duckdb.connect(str(built_home.warehouse_path), read_only=True)
    try:
        if source == "duckdb":  # as publishing reads it: DuckDB filters each slice
            fct = con.sql("SELECT * FROM marts.fct_interviews").pl(lazy=True)
        counted = _client_counts(truth, fct)
        for mart, expected in whole.items():
            keys = list(CELLS[mart].keys)
            assert (
                counted[mart]
                .sort(keys, nulls_last=True)
                .equals(expected.select(counted[mart].columns).sort(keys, nulls_last=True))
            ), mart
        assert all(suppress_marts(truth, fct, 40)[m].equals(published[m]) for m in truth)
    finally:
        con.close()


def test_primary_suppression_alone_leaks_and_the_check_finds_it(built_home):
    # Proves the check above can fail: without complementary suppression a segment row hidden
    # alone is its contrast's `all` row minus the other segments.
    fct, truth = _marts(built_home)
    published = {m: suppressed(m, t, fct, 40, complementary=False) for m, t in truth.items()}
    leaks = _recoverable(truth, published, _relations(truth))
    assert {mart for mart, _, _ in leaks} & {"tactic_estimates", "hypothesis_tests"}


def test_every_research_mart_has_a_disclosure_rule_and_suppressed_rows_show_no_figure(built_home):
    assert set(CELLS) == set(tables.RESEARCH_MARTS)
    fct, truth = _marts(built_home)
    for mart, table in truth.items():
        out = suppressed(mart, table, fct, 150)
        rule = CELLS[mart]
        figures = [c for c in table.columns if c not in (*rule.keys, *rule.descriptive)]
        hidden = out.filter(pl.col(SUPPRESSED))
        assert hidden.select(pl.col(figures).is_null().all()).row(0) == (True,) * len(figures)
        shown = out.filter(~pl.col(SUPPRESSED)).drop(SUPPRESSED)
        keys = list(rule.keys)
        same = table.join(shown.select(keys), on=keys, how="semi", nulls_equal=True)
        assert shown.equals(same)
