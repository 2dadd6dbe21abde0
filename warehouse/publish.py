"""Publishing: an immutable, read-only snapshot of the marts for researchers and dashboards.

DuckDB allows one writing process or many readers per file, never both, so nobody reads the live
warehouse. Each publish writes a new snapshot file next to the old ones (plus a Parquet export of
every mart), completes it, and only then swaps the `current` pointer with an atomic rename.
Readers open `published/current.duckdb` read-only and always see a complete snapshot.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import duckdb

KEEP_SNAPSHOTS = 5
CURRENT = "current.duckdb"
META_COMMENTS = (
    "COMMENT ON TABLE snap.meta.snapshot IS 'Which snapshot this is: cite snapshot_id to make a "
    "result reproducible.'",
    "COMMENT ON COLUMN snap.meta.snapshot.snapshot_id IS '<UTC publish time>-p<last event "
    "position>: the id to cite.'",
    "COMMENT ON COLUMN snap.meta.snapshot.last_event_position IS 'Event-log position the marts "
    "are computed up to; `sealdeal build --as-of <position>` rebuilds them as of that point.'",
    "COMMENT ON COLUMN snap.meta.snapshot.created_at IS 'When the snapshot was published (UTC).'",
    "COMMENT ON COLUMN snap.meta.snapshot.code_version IS 'SealDeal version that computed it.'",
    "COMMENT ON COLUMN snap.meta.snapshot.row_counts IS 'Rows per mart table.'",
)


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    path: Path
    parquet_dir: Path
    last_position: int
    row_counts: dict[str, int]


def _comments(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    """COMMENT statements that reproduce the schema's table and column comments elsewhere."""

    def q(text: str) -> str:
        return text.replace("'", "''")

    stmts = [
        f"COMMENT ON TABLE snap.{schema}.{t} IS '{q(c)}'"
        for t, c in con.execute(
            "SELECT table_name, comment FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = ? AND comment IS NOT NULL",
            [schema],
        ).fetchall()
    ]
    stmts += [
        f"COMMENT ON COLUMN snap.{schema}.{t}.{col} IS '{q(c)}'"
        for t, col, c in con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = ? AND comment IS NOT NULL",
            [schema],
        ).fetchall()
    ]
    return stmts


def publish(con: duckdb.DuckDBPyConnection, published_dir: Path, last_position: int) -> Snapshot:
    """Copy every mart into a new snapshot file + Parquet, then point `current` at it."""
    created = datetime.now(UTC)
    snapshot_id = f"{created:%Y%m%dT%H%M%S%fZ}-p{last_position}"
    snapshots = published_dir / "snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    final = snapshots / f"{snapshot_id}.duckdb"
    partial = final.with_suffix(".partial")
    parquet_dir = snapshots / snapshot_id
    partial.unlink(missing_ok=True)
    tables = [
        t
        for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'marts' ORDER BY 1"
        ).fetchall()
    ]
    con.execute(f"ATTACH '{partial}' AS snap")
    try:
        con.execute("CREATE SCHEMA snap.marts")
        con.execute("CREATE SCHEMA snap.meta")
        counts = {}
        for t in tables:
            con.execute(f"CREATE TABLE snap.marts.{t} AS SELECT * FROM marts.{t}")
            counts[t] = con.execute(f"SELECT count(*) FROM snap.marts.{t}").fetchall()[0][0]
        for stmt in _comments(con, "marts"):
            con.execute(stmt)
        con.execute(
            "CREATE TABLE snap.meta.snapshot (snapshot_id VARCHAR, last_event_position BIGINT, "
            "created_at TIMESTAMPTZ, code_version VARCHAR, row_counts MAP(VARCHAR, BIGINT))"
        )
        con.execute(
            "INSERT INTO snap.meta.snapshot VALUES (?, ?, ?, ?, MAP(?::VARCHAR[], ?::BIGINT[]))",
            [
                snapshot_id,
                last_position,
                created,
                version("sealdeal"),
                list(counts),
                list(counts.values()),
            ],
        )
        for stmt in META_COMMENTS:
            con.execute(stmt)
        for t in tables:
            parquet_dir.mkdir(parents=True, exist_ok=True)
            con.execute(f"COPY marts.{t} TO '{parquet_dir / t}.parquet' (FORMAT parquet)")
    finally:
        con.execute("DETACH snap")
    os.replace(partial, final)
    _point_current(published_dir, final)
    _prune(snapshots)
    return Snapshot(snapshot_id, final, parquet_dir, last_position, counts)


def _point_current(published_dir: Path, target: Path) -> None:
    # A symlink swapped by rename: readers see the old snapshot or the new one, never neither.
    link = published_dir / CURRENT
    tmp = published_dir / f".{CURRENT}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.relative_to(published_dir))
    os.replace(tmp, link)


def _prune(snapshots: Path) -> None:
    files = sorted(snapshots.glob("*.duckdb"))
    for old in files[:-KEEP_SNAPSHOTS]:
        old.unlink()
        shutil.rmtree(old.with_suffix(""), ignore_errors=True)


def current_snapshot(published_dir: Path) -> Path | None:
    link = published_dir / CURRENT
    return link.resolve() if link.exists() else None


class NoSnapshot(Exception):
    pass


def open_snapshot(published_dir: Path, snapshot_id: str | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the current (or a named) snapshot; DuckDB refuses any write."""
    path = (
        published_dir / "snapshots" / f"{snapshot_id}.duckdb"
        if snapshot_id
        else current_snapshot(published_dir)
    )
    if path is None or not path.exists():
        raise NoSnapshot(
            f"no published snapshot {snapshot_id or 'yet'} under {published_dir}: "
            "run `sealdeal build` and the build_insights DAG (or `sealdeal publish`) first"
        )
    return duckdb.connect(str(path), read_only=True)
