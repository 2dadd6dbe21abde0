"""Story tests of the build: incremental equals full, --as-of equals the past, truth recovered."""

from __future__ import annotations

import json
import shutil

import duckdb
import polars as pl
import pytest

from pipelines.ingest.load import ingest_paths
from pipelines.insights.build import build, build_as_of
from pipelines.landing.files import landing_files
from pipelines.synthetic.generate import generate
from tests.samples import DEBRIEF, ERASURE, OUTCOME, debrief, sorted_tables, write_jsonl, zone
from warehouse import tables

TABLES = tables.PROJECTIONS


def snapshot(database) -> dict[str, pl.DataFrame]:
    return sorted_tables(database, {table: f"SELECT * FROM {table}" for table in TABLES})


def assert_same(a: dict, b: dict) -> None:
    for table in TABLES:
        assert a[table].equals(b[table]), table


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    out = tmp_path_factory.mktemp("landing") / "gen"
    generate(out, interviews=6000, seed=11, fmt="jsonl", firms=3)
    return out


def delivered(generated, settings):
    """The generated files delivered into the home's landing zones (each firm's into its own),
    in arrival order."""
    for f in landing_files([generated]):
        target = settings.landing_dir / f.relative_to(generated)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, target)
    return landing_files([settings.landing_dir])


@pytest.fixture(params=[None, 1500], ids=["estimates-whole", "estimates-in-parts"])
def estimate_parts(request, monkeypatch):
    """Interviews per part of the clients the estimates hold (None: the default, one part);
    returns it and the sizes of the parts' prepared rounds as they are made."""
    import pipelines.insights.build as build_module
    from pipelines.insights import effects

    if request.param:
        monkeypatch.setattr(build_module, "ESTIMATE_PART_INTERVIEWS", request.param)
    prepared: list[int] = []
    original = effects.prepared_rounds

    def spy(*args, **kwargs):
        prepared.append((frame := original(*args, **kwargs)).height)
        return frame

    monkeypatch.setattr(effects, "prepared_rounds", spy)
    return request.param, prepared


def test_incremental_build_equals_full_rebuild(settings, master_key, landing, estimate_parts):
    files = delivered(landing, settings)
    half = len(files) // 2
    ingest_paths(files[:half], settings, master_key)
    first = build(settings)
    ingest_paths(files[half:], settings, master_key)
    second = build(settings)
    assert second.from_position == first.to_position
    assert 0 < second.events < second.to_position
    incremental = snapshot(settings.warehouse_path)
    build(settings, full=True)
    assert_same(incremental, snapshot(settings.warehouse_path))
    # Nothing new: a build is a no-op that changes nothing.
    assert build(settings).events == 0
    assert_same(incremental, snapshot(settings.warehouse_path))
    # The last build prepared its rounds in one part, or in parts of ~1500 interviews.
    size, prepared = estimate_parts
    interviews = incremental["marts.fct_interviews"].height
    parts = -(-interviews // size) if size else 1
    assert sum(prepared[-parts:]) == interviews > 5000
    assert parts == 1 or 0 < min(prepared[-parts:]) < max(prepared[-parts:]) < 2 * size


def test_marts_from_parts_of_the_clients_equal_those_from_one(
    settings, master_key, landing, monkeypatch
):
    """Counts and labels exactly; figures to 1e-9 (the same sums, added part by part)."""
    import pipelines.insights.build as build_module
    from tests.pipelines.insights.test_effects_equivalence import assert_equivalent

    ingest_paths(delivered(landing, settings), settings, master_key)
    build(settings, full=True)
    whole = snapshot(settings.warehouse_path)
    monkeypatch.setattr(build_module, "ESTIMATE_PART_INTERVIEWS", 1000)
    build(settings)  # nothing new: the marts alone are computed again
    parts = snapshot(settings.warehouse_path)
    estimates = {f"marts.{name}" for name in ("tactic_estimates", "hypothesis_tests")}
    for table in TABLES:
        if table in estimates:
            assert_equivalent(parts[table], whole[table], rtol=1e-9)
            assert parts[table]["estimate"].is_not_null().sum() > 100
        else:
            assert parts[table].equals(whole[table]), table


def test_a_full_build_in_many_slices_equals_one_in_a_single_slice(
    settings, master_key, landing, monkeypatch
):
    import pipelines.insights.build as build_module

    ingest_paths(delivered(landing, settings), settings, master_key)
    build(settings, full=True)
    whole = snapshot(settings.warehouse_path)
    assert whole["marts.fct_interviews"].height > 5000
    # Chunks of 700 events and buckets of ~500 interviews: every interview's history is
    # spread over several chunks, and a dozen buckets are recomputed one by one.
    monkeypatch.setattr(build_module, "STAGE_CHUNK_EVENTS", 700)
    monkeypatch.setattr(build_module, "BUCKET_INTERVIEWS", 500)
    sliced = build(settings, full=True)
    assert sliced.interviews_recomputed == whole["intermediate.int_interviews"].height
    assert_same(whole, snapshot(settings.warehouse_path))


def without_erasures(files):
    """Copies of landing files minus their erasure records, each in its firm's zone."""
    copies = []
    for f in files:
        lines = [x for x in f.read_text().splitlines() if '"record_type":"erasure"' not in x]
        copy = f.parent / "later" / f.name
        copy.parent.mkdir(exist_ok=True)
        copy.write_text("\n".join(lines) + "\n")
        copies.append(copy)
    return copies


def test_as_of_reproduces_a_past_build(settings, master_key, landing, tmp_path):
    files = delivered(landing, settings)
    assert ingest_paths(files[:2], settings, master_key).totals()["events_appended"] > 0
    then = build(settings)
    past = snapshot(settings.warehouse_path)
    # Later files bring more of everything except erasures (see the next test for those).
    later = ingest_paths(without_erasures(files[2:]), settings, master_key).totals()
    assert later["events_appended"] > 0 and later["files_held"] == 0
    build(settings)
    report = build_as_of(settings, str(then.to_position), tmp_path / "asof.duckdb")
    assert report.to_position == then.to_position
    assert_same(past, snapshot(tmp_path / "asof.duckdb"))


def test_as_of_never_brings_back_a_client_erased_later(settings, master_key, tmp_path):
    write_jsonl(zone(settings) / "a.jsonl", [DEBRIEF, OUTCOME, debrief(2)])
    ingest_paths([zone(settings) / "a.jsonl"], settings, master_key)
    then = build(settings)
    write_jsonl(zone(settings) / "b.jsonl", [ERASURE])
    ingest_paths([zone(settings) / "b.jsonl"], settings, master_key)
    build_as_of(settings, str(then.to_position), tmp_path / "asof.duckdb")
    past = snapshot(tmp_path / "asof.duckdb")
    assert past["marts.fct_interviews"].height == 1  # only client 2 is left
    # The erasure event was tombstoned as it was appended: nothing of the client is left to
    # stage, in the past either (see test_erasure.py for the whole story).
    assert past["staging.stg_erasures"].height == 0
    assert past["staging.stg_debriefs"].height == 1


def test_built_marts_recover_the_planted_truth(settings, master_key, landing):
    """The story end to end: landing files with a latent client trait, co-asked questions and
    hindsight corrections -> ingest -> build. The same-client comparison recovers every
    planted per-round effect; the useless question co-asked with a useful one is not a finding
    there, while the crude comparison, reported beside it, calls it one."""
    ingest_paths([landing], settings, master_key)
    build(settings)
    truth = json.loads((landing / "truth.json").read_text())
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    # The generator writes only valid records: nothing may be quarantined.
    assert con.execute("SELECT count(*) FROM ingest.quarantine").fetchone()[0] == 0
    rows = con.execute(
        "SELECT tactic, method, estimate, std_error, is_finding FROM marts.tactic_estimates "
        "WHERE segment = 'all' AND estimand = 'advance'"
    ).fetchall()
    con.close()
    est = {(t, m): (e, se, finding) for t, m, e, se, finding in rows}
    for tactic, planted in truth["effects"]["advance"].items():
        if tactic == "asked_fit_question":
            continue  # a mix of the three kinds, not a planted parameter
        estimate, se, _ = est[(tactic, "within_client")]
        assert abs(estimate - planted) < 3 * se, tactic
    null = truth["true_nulls"]["tactics"][0]
    assert not est[(null, "within_client")][2]
    assert est[(null, "crude")][2]  # confounded by co-asking and by the clients' trait
    assert {m for t, m in est if t == null} == {"crude", "adjusted", "within_client"}


def test_empty_log_builds_checks_and_publishes_not_enough_data(tmp_path, monkeypatch):
    from pipelines.app.tasks import build_projections, check_marts, publish_snapshot
    from pipelines.core.settings import Settings

    monkeypatch.setenv("SEALDEAL_HOME", str(tmp_path / "fresh" / "home"))  # not created yet
    settings = Settings.from_env()
    assert build_projections(settings)["rows"]["fct_interviews"] == 0
    assert check_marts(settings) > 0
    snap = publish_snapshot(settings)
    con = duckdb.connect(f"{snap['path']}/research.duckdb", read_only=True)
    rows = con.execute(
        "SELECT bool_or(enough_data), count(estimate) FROM marts.tactic_estimates"
    ).fetchall()
    con.close()
    assert rows == [(False, 0)]


def test_a_failed_write_during_a_full_build_leaves_the_previous_build_whole(
    settings, master_key, monkeypatch
):
    import pipelines.insights.build as build_module

    ingest_paths(
        [write_jsonl(zone(settings) / "a.jsonl", [DEBRIEF, OUTCOME])], settings, master_key
    )
    build(settings)
    before = snapshot(settings.warehouse_path)
    real = build_module._insert

    def failing(con, table, frame):
        if table == "marts.fct_interviews":  # on the writer thread, after staging is written
            raise RuntimeError("disk full")
        real(con, table, frame)

    monkeypatch.setattr(build_module, "_insert", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        build(settings, full=True)
    assert_same(before, snapshot(settings.warehouse_path))


def test_a_build_stopped_before_the_marts_is_not_published_until_built_again(
    settings, master_key, monkeypatch
):
    import pipelines.insights.build as build_module
    from pipelines.app.tasks import publish_snapshot

    ingest_paths([write_jsonl(zone(settings) / "a.jsonl", [DEBRIEF])], settings, master_key)
    build(settings)
    ingest_paths([write_jsonl(zone(settings) / "b.jsonl", [OUTCOME])], settings, master_key)

    def stopped(con, memory_limit):
        raise RuntimeError("killed")

    monkeypatch.setattr(build_module, "write_marts", stopped)
    with pytest.raises(RuntimeError, match="killed"):
        build(settings)
    decided = "SELECT sum(decided) FROM marts.funnel_by_stage"
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    # The projections committed with their position; the marts still show the first build.
    assert con.execute("SELECT outcome FROM marts.fct_interviews").fetchall() == [("offer",)]
    assert con.execute(decided).fetchall() == [(0,)]
    con.close()
    with pytest.raises(build_module.BuildIncomplete, match="run `sealdeal build` again"):
        publish_snapshot(settings)

    monkeypatch.undo()
    again = build(settings)
    assert again.events == 0  # nothing new to project: the marts caught up all the same
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    assert con.execute(decided).fetchall() == [(1,)]
    con.close()
    assert publish_snapshot(settings)["snapshot_id"]
