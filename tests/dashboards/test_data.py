"""The dashboards' data layer: filters, firm scoping and the snapshot it reads."""

from __future__ import annotations

from datetime import date

import polars as pl

from dashboards import data
from dashboards.access import local_scope
from warehouse.publish import current_snapshot


def test_filters_keep_exactly_the_matching_rows():
    rows = pl.DataFrame(
        {
            "firm_id": ["a", "a", "b", "b"],
            "industry_group": ["software", "retail", "software", "software"],
            "stage": ["final", "final", "panel", "final"],
            "seniority": ["mid", "mid", "mid", "senior"],
            "interview_date": [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1), None],
        }
    )

    def kept(**kw) -> list[int]:
        return (
            data.Filters(**kw)
            .apply(rows.with_row_index().lazy())
            .collect()
            .get_column("index")
            .to_list()
        )

    assert kept() == [0, 1, 2, 3]
    assert kept(firms=("b",)) == [2, 3]
    assert kept(industries=("software",)) == [0, 2, 3]
    assert kept(stages=("final",), seniorities=("mid",)) == [0, 1]
    assert kept(date_from=date(2025, 2, 1)) == [1, 2]
    assert kept(date_from=date(2025, 1, 15), date_to=date(2025, 2, 15)) == [1]
    assert kept(firms=("a",), industries=("software",), stages=("panel",)) == []


def test_unscoped_load_holds_every_firm(built_home):
    sid = current_snapshot(built_home.published_dir).name
    snap = data.load_snapshot(str(built_home.published_dir), sid, local_scope(None))
    assert snap.snapshot_id == sid
    assert snap.fct["firm_id"].n_unique() == 3
    assert snap.ingest_files.height > 0
    assert snap.meta["snapshot_id"] == sid and snap.suppression_k >= 2
    assert set(snap.benchmark["segment"]) == {"all"}


def test_industries_are_the_normalised_groups(built_home):
    from pipelines.insights.rounds import industry_groups

    sid = current_snapshot(built_home.published_dir).name
    snap = data.load_snapshot(str(built_home.published_dir), sid, local_scope(None))
    groups = industry_groups(snap.fct.lazy()).collect()
    assert snap.options["industries"] == sorted(set(groups["industry_group"]))
    assert snap.fct["industry"].n_unique() > len(snap.options["industries"])
    software = data.Filters(industries=("software",)).apply(snap.fct.lazy()).collect()
    spellings = set(groups.filter(pl.col("industry_group") == "software")["industry"])
    assert set(software["industry"]) == spellings and len(spellings) > 1


def test_benchmark_is_the_published_estimates_segment_all(built_home):
    sid = current_snapshot(built_home.published_dir).name
    snap = data.load_snapshot(str(built_home.published_dir), sid, local_scope(None))
    assert set(snap.benchmark["estimand"]) == {"advance", "application_offer"}
    assert set(snap.benchmark["method"]) == {"crude", "adjusted", "within_client"}
    assert "is_suppressed" in snap.benchmark.columns


def test_scoped_load_reads_only_that_firms_rows(built_home):
    published = built_home.published_dir
    sid = current_snapshot(published).name
    firm = data.load_snapshot(str(published), sid, local_scope(None)).options["firms"][0]
    snap = data.load_snapshot(str(published), sid, local_scope(firm))
    assert snap.fct.height > 0
    for frame in (snap.fct, snap.outcome_history, snap.quarantine_by_reason):
        assert set(frame["firm_id"].unique()) <= {firm}
    # Landing files mix firms (and their names name them): none for a scoped viewer.
    assert snap.ingest_files.is_empty()
    assert snap.options["firms"] == [firm]


def test_firm_value_is_a_bound_parameter_not_sql(built_home):
    published = built_home.published_dir
    sid = current_snapshot(published).name
    snap = data.load_snapshot(str(published), sid, local_scope("x' OR firm_id <> 'x"))
    assert snap.fct.is_empty() and snap.outcome_history.is_empty()


def test_current_is_none_before_anything_is_published(tmp_path, monkeypatch):
    monkeypatch.setenv("SEALDEAL_HOME", str(tmp_path / "fresh"))
    assert data.current() is None


def test_marts_are_recomputed_from_the_filtered_rows(built_home):
    published = built_home.published_dir
    snap = data.load_snapshot(str(published), current_snapshot(published).name, local_scope(None))
    everything = data.mart(snap, "funnel_by_stage", data.Filters())
    final = data.mart(snap, "funnel_by_stage", data.Filters(stages=("final",)))
    assert everything["interviews"].sum() == snap.fct.height
    assert final["stage"].to_list() == ["final"]
    assert final["interviews"][0] == snap.fct.filter(pl.col("stage") == "final").height


def test_a_views_two_estimate_tables_come_from_one_computation(built_home, monkeypatch):
    from pipelines.insights.effects import hypothesis_tests, tactic_estimates

    published = built_home.published_dir
    snap = data.load_snapshot(str(published), current_snapshot(published).name, local_scope(None))
    calls: list[int] = []
    original = data.estimate_tables

    def spy(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(data, "estimate_tables", spy)
    data._estimate_tables.clear()
    data._mart.clear()
    view = data.Filters(stages=("final", "panel"))
    tactics = data.mart(snap, "tactic_estimates", view)
    hypotheses = data.mart(snap, "hypothesis_tests", view)
    assert len(calls) == 1  # the second page found its table computed with the first
    rows = view.apply(snap.fct.lazy())
    assert tactics.equals(tactic_estimates(rows, ("all",)).collect())
    assert hypotheses.equals(hypothesis_tests(rows, ("all",)).collect())
    data.mart(snap, "hypothesis_tests", data.Filters(stages=("final",)))
    assert len(calls) == 2  # another view, its own computation


def test_a_views_descriptive_tables_share_one_preparation_of_its_rounds(built_home, monkeypatch):
    from dashboards import descriptive

    published = built_home.published_dir
    snap = data.load_snapshot(str(published), current_snapshot(published).name, local_scope(None))
    calls: list[int] = []
    original = descriptive.view_rounds

    def spy(fct):
        calls.append(1)
        return original(fct)

    monkeypatch.setattr(descriptive, "view_rounds", spy)
    data._view_rounds.clear()
    data._mart.clear()
    view = data.Filters(seniorities=("mid", "senior"))
    names = ("pass_through", "offer_rate_per_application", "advance_by_timing")
    tables = {name: data.mart(snap, name, view) for name in names}
    assert len(calls) == 1
    rounds = original(view.apply(snap.fct.lazy()))
    for name in names:
        assert tables[name].equals(descriptive.VIEWS[name](rounds))
