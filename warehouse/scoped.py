"""Firm-scoped sessions: one coaching firm's rows, and nothing of any other firm's.

A view with `WHERE firm_id = ?` over the shared snapshot is not isolation: whoever can query the
view can query the table under it, or ATTACH the file. So a scoped session is its own database:
the firm's rows of `firms.duckdb` (selected with the firm id as a bound parameter) and the
cross-firm aggregates of `research.duckdb` (already under the k-rule) are copied into a private
file, which is then opened read-only with external access switched off and the configuration
locked — no ATTACH, no read_parquet/read_csv, no COPY, no way back to the shared snapshot.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from warehouse.publish import snapshot_file

# Row-level tables of firms.duckdb that a firm may see, filtered to its own rows.
FIRM_TABLES = (
    "detail.fct_interviews",
    "detail.outcome_history",
    "health.quarantine_by_reason",
    "health.rounds_by_status",
)
LOCKED = {"enable_external_access": False, "lock_configuration": True}


class UnknownFirm(ValueError):
    pass


def _fill(path: Path, firms: Path, research: Path, firm_id: str) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute(f"ATTACH '{firms}' AS src (READ_ONLY)")
        con.execute(f"ATTACH '{research}' AS agg (READ_ONLY)")
        (known,) = con.execute(
            "SELECT count(*) FROM src.detail.fct_interviews WHERE firm_id = ?", [firm_id]
        ).fetchall()[0]
        if not known:
            raise UnknownFirm(f"no interviews of firm {firm_id!r} in this snapshot")
        for schema in ("detail", "health", "marts", "meta"):
            con.execute(f"CREATE SCHEMA {schema}")
        for table in FIRM_TABLES:
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM src.{table} WHERE firm_id = ?",
                        [firm_id])  # fmt: skip
        for (table,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'agg' "
            "AND schema_name = 'marts' ORDER BY 1"
        ).fetchall():
            con.execute(f"CREATE TABLE marts.{table} AS SELECT * FROM agg.marts.{table}")
        con.execute("CREATE TABLE meta.snapshot AS SELECT * FROM agg.meta.snapshot")
        con.execute("DETACH src")
        con.execute("DETACH agg")
    finally:
        con.close()


@contextmanager
def firm_session(
    published_dir: Path, firm_id: str, snapshot_id: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only, locked-down connection holding only ``firm_id``'s rows (plus aggregates)."""
    firms = snapshot_file(published_dir, snapshot_id, "firms")
    research = snapshot_file(published_dir, snapshot_id, "research")
    tmp = Path(tempfile.mkdtemp(prefix="sealdeal-firm-"))
    try:
        path = tmp / "session.duckdb"
        _fill(path, firms, research, firm_id)
        con = duckdb.connect(str(path), read_only=True, config=LOCKED)
        try:
            yield con
        finally:
            con.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
