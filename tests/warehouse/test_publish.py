"""Publishing snapshots: complete, commented, read-only, atomically current, pruned."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner

from pipelines.app.cli import main
from pipelines.release.publishing import publish_marts as publish
from warehouse.publish import KEEP_SNAPSHOTS, ReleasedTable, current_snapshot, snapshot_dirs
from warehouse.publish import publish as write_snapshot
from warehouse.store import EventStore


@pytest.fixture
def warehouse(settings):
    with EventStore(settings.warehouse_path) as store:
        store.con.execute(
            "INSERT INTO marts.perception_gap VALUES (3, 40, 10, 0.25, 0.14, 0.4, true)"
        )
        yield store


def test_snapshot_holds_marts_comments_metadata_and_parquet(warehouse, settings):
    snap = publish(warehouse.con, settings.published_dir, last_position=42)
    assert current_snapshot(settings.published_dir) == snap.path
    con = duckdb.connect(str(snap.research_path), read_only=True)
    try:
        # No fct_interviews row behind the inserted mart row: 0 clients, nothing to suppress.
        assert con.execute("SELECT n, offers FROM marts.perception_gap").fetchall() == [(40, 10)]
        assert "fct_interviews" not in {t for (t,) in con.execute("SHOW TABLES").fetchall()}
        meta = con.execute(
            "SELECT snapshot_id, last_event_position, code_version, row_counts['perception_gap'] "
            "FROM meta.snapshot"
        ).fetchall()
        comment = con.execute(
            "SELECT comment FROM duckdb_columns() WHERE table_name = 'perception_gap' "
            "AND column_name = 'offer_rate_ci_low'"
        ).fetchall()
    finally:
        con.close()
    ((snapshot_id, position, code, rows),) = meta
    assert (snapshot_id, position, rows) == (snap.snapshot_id, 42, 1)
    assert code.startswith("0.1.0+")  # the version and the git commit of this checkout
    parquet_meta = duckdb.sql(
        f"SELECT snapshot_id FROM '{snap.parquet_dir / 'meta_snapshot.parquet'}'"
    ).fetchall()
    assert parquet_meta == [(snap.snapshot_id,)]
    assert "Wilson" in comment[0][0]
    assert (snap.parquet_dir / "perception_gap.parquet").exists()
    assert not list(snap.path.parent.glob(".*partial"))
    detail = duckdb.connect(str(snap.firms_path), read_only=True)
    try:
        tables = detail.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() ORDER BY 1"
        ).fetchall()
        k = detail.execute("SELECT suppression_k FROM meta.snapshot").fetchall()
    finally:
        detail.close()
    assert [t for (t,) in tables] == [
        "detail.fct_interviews",
        "detail.outcome_history",
        "health.industry_groups",
        "health.ingest_files",
        "health.mart_checks",
        "health.quarantine_by_reason",
        "health.rounds_by_status",
        "meta.snapshot",
    ]
    assert k == [(5,)]


def test_every_snapshot_table_answers_as_schema_table(warehouse, settings):
    # As a researcher types it: no file stem may share a name with a schema inside it.
    snap = publish(warehouse.con, settings.published_dir, last_position=1)
    for path in (snap.research_path, snap.firms_path):
        con = duckdb.connect(str(path), read_only=True)
        try:
            names = con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL"
            ).fetchall()
            assert len(names) >= 8
            for schema, table in names:
                con.execute(f"SELECT count(*) FROM {schema}.{table}").fetchall()
        finally:
            con.close()


@pytest.mark.parametrize("as_file", [False, True], ids=["frame", "parquet file"])
def test_released_tables_are_written_as_handed_in_with_their_comments_and_parquet(
    warehouse, settings, tmp_path, as_file
):
    frame = pl.DataFrame({"a": [1, 2], "b": ["x", None]})
    handed = frame
    if as_file:  # streamed by DuckDB: the release's rows need not fit in memory
        handed = tmp_path / "t.parquet"
        frame.write_parquet(handed)
    table = ReleasedTable(handed, "A table.", {"a": "Column a.", "b": "Column b."})
    snap = write_snapshot(
        warehouse.con, settings.published_dir, 3, {}, k=5, research_tables={"extra.t": table}
    )
    con = duckdb.connect(str(snap.research_path), read_only=True)
    try:
        rows = con.execute("SELECT a, b FROM extra.t ORDER BY a").fetchall()
        comments = con.execute(
            "SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = 'extra' "
            "UNION ALL SELECT NULL, comment FROM duckdb_tables() WHERE schema_name = 'extra' "
            "ORDER BY ALL"
        ).fetchall()
        counts = con.execute("SELECT row_counts FROM meta.snapshot").fetchall()[0][0]
    finally:
        con.close()
    assert rows == [(1, "x"), (2, None)]
    assert comments == [("a", "Column a."), ("b", "Column b."), (None, "A table.")]
    assert counts == {"extra.t": 2}
    assert pl.read_parquet(snap.parquet_dir / "extra_t.parquet").equals(frame)
    # Nothing undocumented, and no schema that a snapshot already uses or a file stem has.
    undocumented = {"extra.t": ReleasedTable(handed, "A table.", {"a": "Column a."})}
    with pytest.raises(ValueError, match="no COMMENT"):
        write_snapshot(warehouse.con, settings.published_dir, 4, {}, k=5,
                       research_tables=undocumented)  # fmt: skip
    for schema in ("marts", "meta", "research", "firms"):
        with pytest.raises(ValueError, match="is taken"):
            write_snapshot(warehouse.con, settings.published_dir, 4, {}, k=5,
                           research_tables={f"{schema}.t": table})  # fmt: skip
    assert current_snapshot(settings.published_dir) == snap.path  # failed publishes left no trace


def test_a_released_parquet_file_keeps_its_row_order(warehouse, settings, tmp_path):
    # The release's rows are sorted by key on purpose (the order says nothing): kept as written.
    frame = pl.DataFrame({"a": range(300_000, 0, -1)})
    frame.write_parquet(tmp_path / "t.parquet", row_group_size=10_000)
    table = ReleasedTable(tmp_path / "t.parquet", "A table.", {"a": "Column a."})
    snap = write_snapshot(
        warehouse.con, settings.published_dir, 3, {}, k=5, research_tables={"extra.t": table}
    )
    assert pl.read_parquet(snap.parquet_dir / "extra_t.parquet").equals(frame)


def test_only_the_last_snapshots_are_kept_and_current_is_the_newest(warehouse, settings):
    snaps = [publish(warehouse.con, settings.published_dir, i) for i in range(KEEP_SNAPSHOTS + 2)]
    kept = sorted(p.name for p in snapshot_dirs(settings.published_dir))
    assert kept == sorted(s.path.name for s in snaps[-KEEP_SNAPSHOTS:])
    assert current_snapshot(settings.published_dir) == snaps[-1].path
    assert not snaps[0].path.exists()


def test_research_marts_are_suppressed_with_the_configured_k(built_home, tmp_path, monkeypatch):
    from pipelines.app.tasks import publish_snapshot

    home = tmp_path / "home"
    shutil.copytree(built_home.home, home, symlinks=True)
    monkeypatch.setenv("SEALDEAL_HOME", str(home))
    counts = {}
    for k in ("5", "60"):
        monkeypatch.setenv("SEALDEAL_SUPPRESSION_K", k)
        snap = publish_snapshot()
        con = duckdb.connect(str(Path(snap["path"]) / "research.duckdb"), read_only=True)
        try:
            counts[k] = con.execute(
                "SELECT (SELECT suppression_k FROM meta.snapshot), "
                "count(*) FILTER (WHERE is_suppressed), "
                "count(*) FILTER (WHERE is_suppressed AND n_treated IS NOT NULL) "
                "FROM marts.tactic_estimates"
            ).fetchall()[0]
        finally:
            con.close()
    assert counts["5"][0] == 5 and counts["60"][0] == 60
    assert counts["60"][1] > counts["5"][1]
    assert counts["60"][2] == 0


def test_sql_command_reads_the_snapshot_and_refuses_writes(warehouse, settings):
    publish(warehouse.con, settings.published_dir, 7)
    runner = CliRunner()
    ok = runner.invoke(main, ["sql", "SELECT n FROM marts.perception_gap", "--format", "csv"])
    assert ok.exit_code == 0 and ok.output == '"n"\n40\n'
    for statement in ("DELETE FROM marts.perception_gap", "CREATE TABLE t AS SELECT 1"):
        refused = runner.invoke(main, ["sql", statement])
        assert refused.exit_code == 1
        assert "snapshots are read-only" in refused.output


def test_sql_without_a_snapshot_says_what_to_do(settings):
    result = CliRunner().invoke(main, ["sql", "SELECT 1"])
    assert result.exit_code == 1 and "no published snapshot" in result.output
