"""Publishing snapshots: complete, commented, read-only, atomically current, pruned."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner

from pipelines.cli import main
from warehouse.publish import KEEP_SNAPSHOTS, current_snapshot, publish
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
    con = duckdb.connect(str(snap.path), read_only=True)
    try:
        assert con.execute("SELECT n, offers FROM marts.perception_gap").fetchall() == [(40, 10)]
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
    assert meta == [(snap.snapshot_id, 42, "0.1.0", 1)]
    assert "Wilson" in comment[0][0]
    assert (snap.parquet_dir / "perception_gap.parquet").exists()
    assert not list(snap.path.parent.glob("*.partial"))


def test_only_the_last_snapshots_are_kept_and_current_is_the_newest(warehouse, settings):
    snaps = [publish(warehouse.con, settings.published_dir, i) for i in range(KEEP_SNAPSHOTS + 2)]
    kept = sorted(p.name for p in (settings.published_dir / "snapshots").glob("*.duckdb"))
    assert kept == sorted(s.path.name for s in snaps[-KEEP_SNAPSHOTS:])
    assert current_snapshot(settings.published_dir) == snaps[-1].path
    assert not snaps[0].parquet_dir.exists()


def test_sql_command_reads_the_snapshot_and_refuses_writes(warehouse, settings):
    publish(warehouse.con, settings.published_dir, 7)
    runner = CliRunner()
    ok = runner.invoke(main, ["sql", "SELECT n FROM marts.perception_gap", "--format", "csv"])
    assert ok.exit_code == 0 and ok.output == "n\n40\n"
    for statement in ("DELETE FROM marts.perception_gap", "CREATE TABLE t AS SELECT 1"):
        refused = runner.invoke(main, ["sql", statement])
        assert refused.exit_code == 1
        assert "snapshots are read-only" in refused.output


def test_sql_without_a_snapshot_says_what_to_do(settings):
    result = CliRunner().invoke(main, ["sql", "SELECT 1"])
    assert result.exit_code == 1 and "no published snapshot" in result.output
