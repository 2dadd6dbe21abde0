"""Opening a store brings the warehouse up to warehouse/sql, and skips the files when nothing
changed since (re-running them cost ~1 s per store opened)."""

from __future__ import annotations

import duckdb

from warehouse.store import apply_schema, first_row


def comment(con: duckdb.DuckDBPyConnection) -> str:
    return first_row(
        con,
        "SELECT comment FROM duckdb_tables() WHERE schema_name = 'ingest' AND table_name = 'files'",
    )[0]


def test_schema_is_applied_once_then_skipped_until_a_table_or_the_files_change(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    apply_schema(con)
    original = comment(con)
    assert original
    con.execute("COMMENT ON TABLE ingest.files IS 'edited'")
    apply_schema(con)
    assert comment(con) == "edited"  # unchanged files, every table there: skipped

    con.execute("DROP TABLE marts.objections")  # as a full build does before rebuilding it
    apply_schema(con)
    assert first_row(con, "SELECT count(*) FROM marts.objections") == (0,)
    assert comment(con) == original

    con.execute("COMMENT ON TABLE ingest.files IS 'edited'")
    con.execute("UPDATE eventstore.schema_applied SET digest = 'older files'")
    apply_schema(con)
    assert comment(con) == original
    assert first_row(con, "SELECT count(*) FROM eventstore.schema_applied") == (1,)
