"""The table catalogue (warehouse/tables.py) is the schema: every table the DDL creates is in it,
every table in it is created, and the marts the build computes and the publisher releases are
the catalogue's."""

from __future__ import annotations

from pipelines.insights.marts import MARTS
from pipelines.release import microdata
from pipelines.release.disclosure import CELLS
from warehouse import tables
from warehouse.publish import PARTS
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


def test_the_row_level_release_is_snapshot_only_and_is_the_catalogues(tmp_path):
    with EventStore(":memory:") as store:
        empty = store.con.sql(f"SELECT * FROM {tables.FACT}").pl()
    release = microdata.release(empty.lazy(), 5, b"0" * 32, tmp_path)
    assert release.interviews.collect().height == 0
    assert tuple(microdata.publish_tables(release)) == tables.MICRODATA
    assert not set(tables.MICRODATA) & (set(tables.PROJECTIONS) | set(tables.LOG))
    assert {t.split(".")[0] for t in tables.MICRODATA}.isdisjoint(("marts", "meta", *PARTS))


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
