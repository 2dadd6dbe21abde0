"""The table catalogue (warehouse/tables.py) is the schema: every table the DDL creates is in it,
every table in it is created, and the marts the build computes and the publisher releases are
the catalogue's."""

from __future__ import annotations

from pipelines.insights.marts import MARTS
from pipelines.release.disclosure import CELLS
from warehouse import tables
from warehouse.store import EventStore


def test_the_catalogue_names_exactly_the_tables_the_ddl_creates(tmp_path):
    with EventStore(tmp_path / "w.duckdb") as store:
        created = {
            f"{schema}.{table}"
            for schema, table in store.con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() "
                "WHERE database_name = current_database()"
            ).fetchall()
        }
    assert created == set(tables.PROJECTIONS) | set(tables.LOG)
    assert not set(tables.PROJECTIONS) & set(tables.LOG)


def test_the_build_computes_and_the_release_suppresses_the_catalogues_marts():
    assert tuple(MARTS) == tables.MARTS
    assert set(CELLS) == set(tables.RESEARCH_MARTS)
    assert not set(tables.RESEARCH_MARTS) & set(tables.FIRMS_ONLY_MARTS)


def test_client_tables_all_carry_the_client():
    with EventStore(":memory:") as store:
        for table in tables.CLIENT_TABLES:
            schema, name = table.split(".")
            columns = {
                c
                for (c,) in store.con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? "
                    "AND table_name = ?",
                    [schema, name],
                ).fetchall()
            }
            assert {"firm_id", "client_key"} <= columns, table
