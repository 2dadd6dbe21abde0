"""A firm-scoped session holds one firm's rows and cannot reach any other firm's."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner

from pipelines.app.cli import main
from warehouse.publish import open_snapshot
from warehouse.scoped import UnknownFirm, firm_session


@pytest.fixture(scope="module")
def firms(built_home) -> list[str]:
    con = open_snapshot(built_home.published_dir, part="firms")
    try:
        rows = con.execute("SELECT DISTINCT firm_id FROM detail.fct_interviews ORDER BY 1")
        return [f for (f,) in rows.fetchall()]
    finally:
        con.close()


def test_every_row_level_table_holds_only_the_firms_rows(built_home, firms):
    assert len(firms) >= 2
    firm = firms[0]
    with firm_session(built_home.published_dir, firm) as con:
        with_firm = con.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_columns() "
            "WHERE column_name = 'firm_id' ORDER BY 1"
        ).fetchall()
        assert [t for (t,) in with_firm] == [
            "detail.fct_interviews",
            "detail.outcome_history",
            "health.quarantine_by_reason",
            "health.rounds_by_status",
        ]
        for (table,) in with_firm:
            seen = con.execute(f"SELECT DISTINCT firm_id FROM {table}").fetchall()
            assert set(seen) <= {(firm,)}, table
        (n,) = con.execute("SELECT count(*) FROM detail.fct_interviews").fetchall()[0]
        assert n > 0
        # The cross-firm aggregates are there, under the k-rule.
        assert con.execute("SELECT count(*) FROM marts.tactic_estimates").fetchall()[0][0] > 0


def test_no_allowed_query_reaches_the_shared_snapshot(built_home, firms):
    snapshot = built_home.published_dir / "current"
    escapes = [
        f"ATTACH '{snapshot / 'firms.duckdb'}' AS other",
        f"SELECT * FROM read_parquet('{snapshot / 'parquet' / '*.parquet'}')",
        f"SELECT * FROM '{snapshot / 'firms.duckdb'}'",
        f"COPY (SELECT 1) TO '{built_home.home / 'leak.csv'}'",
        "SET enable_external_access = true",
        "RESET enable_external_access",
        "INSERT INTO detail.fct_interviews SELECT * FROM detail.fct_interviews",
    ]
    with firm_session(built_home.published_dir, firms[0]) as con:
        for sql in escapes:
            with pytest.raises(duckdb.Error):
                con.execute(sql).fetchall()
        (dbs,) = con.execute(
            "SELECT count(*) FROM duckdb_databases() WHERE NOT internal"
        ).fetchall()
        assert dbs == (1,)
    assert not (built_home.home / "leak.csv").exists()


def test_sql_firm_mode_from_the_command_line(built_home, firms, monkeypatch):
    monkeypatch.setenv("SEALDEAL_HOME", str(built_home.home))
    runner = CliRunner()
    query = "SELECT DISTINCT firm_id FROM detail.fct_interviews"
    scoped = runner.invoke(main, ["sql", "--firm", firms[1], query, "--format", "csv"])
    assert scoped.exit_code == 0, scoped.output
    assert scoped.output == f'"firm_id"\n"{firms[1]}"\n'
    # Without --firm there is no row-level table at all: researchers get aggregates only.
    unscoped = runner.invoke(main, ["sql", query])
    assert unscoped.exit_code == 1 and "fct_interviews" in unscoped.output
    unknown = runner.invoke(main, ["sql", "--firm", "no-such-firm", "SELECT 1"])
    assert unknown.exit_code == 1 and "no interviews of firm" in unknown.output
    with pytest.raises(UnknownFirm), firm_session(built_home.published_dir, "no-such-firm"):
        pass


def test_every_table_with_client_level_rows_carries_firm_id(built_home):
    files = [built_home.warehouse_path, built_home.published_dir / "current" / "firms.duckdb"]
    checked = 0
    for path in files:
        con = duckdb.connect(str(path), read_only=True)
        try:
            columns = con.execute(
                "SELECT schema_name || '.' || table_name, list(column_name) FROM duckdb_columns() "
                "WHERE database_name = current_database() GROUP BY ALL"
            ).fetchall()
        finally:
            con.close()
        for table, names in columns:
            if {"client_key", "interview_key"} & set(names):
                assert "firm_id" in names, f"{path.name}: {table}"
                checked += 1
    assert checked >= 7  # events, staging x3, intermediate, fct; and the snapshot's copies
