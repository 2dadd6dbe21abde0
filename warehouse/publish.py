"""Publishing: immutable, read-only snapshots for researchers and dashboards.

DuckDB allows one writing process or many readers per file, never both, so nobody reads the live
warehouse. Each publish writes a new snapshot directory next to the old ones, completes it, and
only then swaps the `current` symlink with an atomic rename. A snapshot holds two files:

- ``research.duckdb`` (+ ``parquet/``): the cross-firm aggregate marts, handed in with the k-rule
  already applied (the storage layer knows no disclosure policy: `pipelines.release` applies
  it), any further tables handed in ready to release with their COMMENTs (the k-anonymous
  row-level release, ``microdata.*``), and ``meta.snapshot``. What researchers query and may
  hand around.
- ``firms.duckdb``: row-level, pseudonymous interview facts and outcome history of every firm,
  plus ingestion health. Only the dashboard and firm-scoped sessions read it, each scoped to one
  firm's rows (`warehouse.scoped`); it is never exported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import duckdb
import polars as pl

KEEP_SNAPSHOTS = 5
CURRENT = "current"
# File stems differ from every schema name inside, so `schema.table` is never ambiguous.
PARTS = ("research", "firms")
SUPPRESSED = "is_suppressed"  # the flag column every research mart carries

META_DDL = (
    "CREATE TABLE snap.meta.snapshot (snapshot_id VARCHAR, last_event_position BIGINT, "
    "created_at TIMESTAMPTZ, code_version VARCHAR, row_counts MAP(VARCHAR, BIGINT), "
    "suppression_k INTEGER, data_docs_path VARCHAR, last_ingest_at TIMESTAMPTZ)"
)
META_COMMENTS = {
    None: "Which snapshot this is: cite snapshot_id to make a result reproducible.",
    "snapshot_id": "<UTC publish time>-p<last event position>: the id to cite.",
    "last_event_position": "Event-log position the marts are computed up to; `sealdeal build "
    "--as-of <position>` rebuilds them as of that point.",
    "created_at": "When the snapshot was published (UTC).",
    "code_version": "SealDeal version that computed it (+ the git commit, with -dirty for "
    "uncommitted changes, when run from a checkout).",
    "row_counts": "Rows per table of this file.",
    "suppression_k": "The k of the k-rule: aggregate rows resting on 1 to k-1 distinct clients "
    "are suppressed (is_suppressed), together with enough other rows that no subtraction "
    "recovers them.",
    "data_docs_path": "Great Expectations Data Docs (index.html) of the ingestion checks, when "
    "built.",
    "last_ingest_at": "When the last landing file was processed (UTC).",
}
SUPPRESSED_COMMENT = (
    "True when this row rests on 1 to k-1 distinct clients (k: meta.snapshot.suppression_k), or "
    "was hidden so that the totals cannot be used to recover such a row: every count and figure "
    "of the row is then null."
)
DETAIL_TABLES = {
    "detail.fct_interviews": (
        "SELECT * FROM marts.fct_interviews ORDER BY firm_id, interview_date, interview_key",
        ("marts", "fct_interviews"),
        None,
    ),
    "detail.outcome_history": (
        "SELECT o.firm_id, o.client_key, o.interview_key, o.decided_at, o.outcome, o.referral "
        "FROM staging.stg_outcomes o ORDER BY o.firm_id, o.client_key, o.decided_at",
        ("staging", "stg_outcomes"),
        "Every outcome ever reported for an interview (superseded ones included), in the order "
        "the client heard them: the outcome side of a client's journey.",
    ),
    "health.ingest_files": (
        "SELECT file_name, file_format, status, reason, records, events_appended, duplicates, "
        "conflicts, quarantined, processed_at FROM ingest.files ORDER BY processed_at",
        ("ingest", "files"),
        None,
    ),
    "health.rounds_by_status": (
        "SELECT * FROM marts.rounds_by_status ORDER BY ALL",
        ("marts", "rounds_by_status"),
        None,
    ),
    "health.industry_groups": (
        "SELECT * FROM marts.industry_groups ORDER BY industry_group, industry",
        ("marts", "industry_groups"),
        None,
    ),
    "health.quarantine_by_reason": (
        "SELECT firm_id, reason, count(*) AS records FROM "
        "(SELECT firm_id, unnest(reasons) AS reason FROM ingest.quarantine) "
        "GROUP BY ALL ORDER BY firm_id, records DESC, reason",
        None,
        "Quarantined landing records per firm and broken rule (a record breaking several rules "
        "counts once per rule).",
    ),
}
MART_CHECKS_DDL = (
    'CREATE TABLE snap.health.mart_checks (checked_in VARCHAR, "table" VARCHAR, '
    'expectation VARCHAR, "column" VARCHAR, success BOOLEAN, unexpected BIGINT)'
)
DETAIL_COLUMN_COMMENTS = {
    "health.mart_checks": {
        "checked_in": "The GX results file (quality/marts/) these rows come from.",
        "table": "The mart checked.",
        "expectation": "The Great Expectations expectation.",
        "column": "The column it applies to (null for table-level ones).",
        "success": "Whether the mart met it.",
        "unexpected": "Rows that did not.",
    },
    "health.quarantine_by_reason": {
        "firm_id": "The firm, when the record named a well-formed firm_id (null otherwise).",
        "reason": "A rule the records broke, in plain words (see ingest.quarantine.reasons).",
        "records": "How many quarantined records broke it.",
    },
}


@dataclass(frozen=True)
class ReleasedTable:
    """A table for ``research.duckdb`` exactly as it may be released, with the COMMENTs that
    describe it (the researchers' dictionary is generated from them, so none may be missing)."""

    frame: pl.DataFrame | Path  # a Path: a Parquet file, copied by DuckDB in its order
    comment: str
    columns: Mapping[str, str]

    def column_names(self) -> list[str]:
        if isinstance(self.frame, Path):
            return list(pl.read_parquet_schema(self.frame))
        return self.frame.columns


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    path: Path  # the snapshot directory
    last_position: int
    row_counts: dict[str, int]

    @property
    def research_path(self) -> Path:
        return self.path / "research.duckdb"

    @property
    def firms_path(self) -> Path:
        return self.path / "firms.duckdb"

    @property
    def parquet_dir(self) -> Path:
        return self.path / "parquet"


def sql_quoted(text: str) -> str:
    """``text`` for inside a single-quoted SQL literal (names and paths cannot be parameters)."""
    return text.replace("'", "''")


def _comments(con: duckdb.DuckDBPyConnection, schema: str, table: str, target: str) -> list[str]:
    """COMMENT statements that copy a warehouse table's comments onto ``target`` (only the
    columns ``target`` has)."""
    db, t_schema, t_table = target.split(".")
    stmts = [
        f"COMMENT ON TABLE {target} IS '{sql_quoted(c)}'"
        for (c,) in con.execute(
            "SELECT comment FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ? AND comment IS NOT NULL",
            [schema, table],
        ).fetchall()
    ]
    stmts += [
        f"COMMENT ON COLUMN {target}.{col} IS '{sql_quoted(c)}'"
        for col, c in con.execute(
            "SELECT s.column_name, s.comment FROM duckdb_columns() s "
            "JOIN duckdb_columns() t ON t.column_name = s.column_name AND t.database_name = ? "
            "AND t.schema_name = ? AND t.table_name = ? "
            "WHERE s.database_name = current_database() AND s.schema_name = ? "
            "AND s.table_name = ? AND s.comment IS NOT NULL ORDER BY s.column_index",
            [db, t_schema, t_table, schema, table],
        ).fetchall()
    ]
    return stmts


def _copy_frame(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame | Path, target: str) -> None:
    if isinstance(frame, Path):  # streamed: the rows need never be in memory at once
        con.execute(f"CREATE TABLE {target} AS FROM read_parquet('{sql_quoted(str(frame))}')")
        return
    con.register("_frame", frame.to_arrow())
    try:
        con.execute(f"CREATE TABLE {target} AS SELECT * FROM _frame")
    finally:
        con.unregister("_frame")


def _write_meta(con: duckdb.DuckDBPyConnection, values: list, counts: dict[str, int]) -> None:
    con.execute("CREATE SCHEMA snap.meta")
    con.execute(META_DDL)
    con.execute(
        "INSERT INTO snap.meta.snapshot "
        "VALUES (?, ?, ?, ?, MAP(?::VARCHAR[], ?::BIGINT[]), ?, ?, ?)",
        [*values[:4], list(counts), list(counts.values()), *values[4:]],
    )
    for column, text in META_COMMENTS.items():
        target = "snap.meta.snapshot" + (f".{column}" if column else "")
        kind = "COLUMN" if column else "TABLE"
        con.execute(f"COMMENT ON {kind} {target} IS '{sql_quoted(text)}'")


def _research(con, snapshot_dir: Path, marts: Mapping[str, pl.DataFrame]) -> dict[str, int]:
    """The research marts as handed in (k-rule applied), into research.duckdb and Parquet."""
    counts = {}
    parquet = snapshot_dir / "parquet"
    parquet.mkdir()
    con.execute("CREATE SCHEMA snap.marts")
    for mart in sorted(marts):
        table, target = marts[mart], f"snap.marts.{mart}"
        _copy_frame(con, table, target)
        for stmt in _comments(con, "marts", mart, target):
            con.execute(stmt)
        if SUPPRESSED in table.columns:
            con.execute(
                f"COMMENT ON COLUMN {target}.{SUPPRESSED} IS '{sql_quoted(SUPPRESSED_COMMENT)}'"
            )
        con.execute(f"COPY {target} TO '{parquet / mart}.parquet' (FORMAT parquet)")
        counts[mart] = table.height
    return counts


def _released(con, snapshot_dir: Path, tables: Mapping[str, ReleasedTable]) -> dict[str, int]:
    """Further research tables (``schema.table``) as handed in: into research.duckdb, commented,
    and to ``parquet/<schema>_<table>.parquet``."""
    counts = {}
    for name in sorted(tables):
        schema, table = name.split(".")
        if schema in ("marts", "meta", *PARTS):  # marts are the aggregates; no schema a stem
            raise ValueError(f"{name}: the schema {schema!r} is taken")
        released, target = tables[name], f"snap.{schema}.{table}"
        if missing := set(released.column_names()) - set(released.columns):
            raise ValueError(f"{name}: no COMMENT for {sorted(missing)}")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS snap.{schema}")
        _copy_frame(con, released.frame, target)
        con.execute(f"COMMENT ON TABLE {target} IS '{sql_quoted(released.comment)}'")
        for column in released.column_names():
            text = sql_quoted(released.columns[column])
            con.execute(f"COMMENT ON COLUMN {target}.\"{column}\" IS '{text}'")
        parquet = snapshot_dir / "parquet" / f"{schema}_{table}.parquet"
        con.execute(f"COPY {target} TO '{parquet}' (FORMAT parquet)")
        (counts[name],) = con.execute(f"SELECT count(*) FROM {target}").fetchone()
    return counts


def _mart_checks(con, results: Path | None) -> None:
    """The GX mart checks that passed before this publish (the dashboard reads only snapshots)."""
    con.execute(MART_CHECKS_DDL)
    if results is not None:
        con.execute(
            'INSERT INTO snap.health.mart_checks SELECT ?, "table", expectation, "column", '
            "success, unexpected FROM read_json(?, columns = {'table': 'VARCHAR', "
            "'expectation': 'VARCHAR', 'column': 'VARCHAR', 'success': 'BOOLEAN', "
            "'unexpected': 'BIGINT'}, format = 'array')",
            [results.name, str(results)],
        )
    con.execute(
        "COMMENT ON TABLE snap.health.mart_checks IS 'Great Expectations checks the marts passed "
        "before this snapshot was published (a failure stops the publish).'"
    )


def _firms(con, mart_checks: Path | None = None) -> dict[str, int]:
    counts = {}
    for schema in ("detail", "health"):
        con.execute(f"CREATE SCHEMA snap.{schema}")
    _mart_checks(con, mart_checks)
    for target, (query, source, comment) in DETAIL_TABLES.items():
        con.execute(f"CREATE TABLE snap.{target} AS {query}")
        if source:
            for stmt in _comments(con, *source, f"snap.{target}"):
                # A source table's own description is replaced where this copy says otherwise.
                if not (comment and stmt.startswith("COMMENT ON TABLE")):
                    con.execute(stmt)
        if comment:
            con.execute(f"COMMENT ON TABLE snap.{target} IS '{sql_quoted(comment)}'")
        for column, text in DETAIL_COLUMN_COMMENTS.get(target, {}).items():
            con.execute(f"COMMENT ON COLUMN snap.{target}.{column} IS '{sql_quoted(text)}'")
        counts[target] = con.execute(f"SELECT count(*) FROM snap.{target}").fetchall()[0][0]
    for column, text in DETAIL_COLUMN_COMMENTS["health.mart_checks"].items():
        con.execute(
            f"COMMENT ON COLUMN snap.health.mart_checks.\"{column}\" IS '{sql_quoted(text)}'"
        )
    counts["health.mart_checks"] = con.execute(
        "SELECT count(*) FROM snap.health.mart_checks"
    ).fetchall()[0][0]
    return counts


def publish(
    con: duckdb.DuckDBPyConnection,
    published_dir: Path,
    last_position: int,
    research_marts: Mapping[str, pl.DataFrame],
    *,
    k: int,
    research_tables: Mapping[str, ReleasedTable] | None = None,
    data_docs_path: Path | None = None,
    mart_checks: Path | None = None,
) -> Snapshot:
    """Write a new snapshot directory from the warehouse, then point `current` at it.

    ``research_marts`` are the aggregate tables as they may be released (suppressed under the
    k-rule with this ``k``, which the snapshot records); ``research_tables`` (``schema.table``)
    join them in research.duckdb as handed in; the firms file is read from the warehouse."""
    created = datetime.now(UTC)
    snapshot_id = f"{created:%Y%m%dT%H%M%S%fZ}-p{last_position}"
    snapshots = published_dir / "snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    final = snapshots / snapshot_id
    partial = snapshots / f".{snapshot_id}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    (last_ingest,) = con.execute("SELECT max(processed_at) FROM ingest.files").fetchall()[0]
    meta = [
        snapshot_id,
        last_position,
        created,
        code_version(),
        k,
        str(data_docs_path) if data_docs_path else None,
        last_ingest,
    ]
    counts: dict[str, int] = {}
    try:
        fills = {
            "research": lambda: (
                _research(con, partial, research_marts)
                | _released(con, partial, research_tables or {})
            ),
            "firms": lambda: _firms(con, mart_checks),
        }
        for part, fill in fills.items():
            con.execute(f"ATTACH '{partial / part}.duckdb' AS snap")
            try:
                part_counts = fill()
                _write_meta(con, meta, part_counts)
                if part == "research":  # Parquet users get the citation too
                    target = partial / "parquet" / "meta_snapshot.parquet"
                    con.execute(f"COPY snap.meta.snapshot TO '{target}' (FORMAT parquet)")
                counts |= part_counts
            finally:
                con.execute("DETACH snap")
        os.replace(partial, final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    _point_current(published_dir, final)
    _prune(snapshots)
    return Snapshot(snapshot_id, final, last_position, counts)


def code_version() -> str:
    """The package version, plus the git commit when running from a checkout (what a result
    must be reproduced with)."""
    base = version("sealdeal")
    try:
        commit = subprocess.run(
            ["git", "-C", str(Path(__file__).parent), "describe", "--always", "--dirty"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return base
    return f"{base}+{commit}" if commit else base


def _point_current(published_dir: Path, target: Path) -> None:
    # A symlink swapped by rename: readers see the old snapshot or the new one, never neither.
    link = published_dir / CURRENT
    tmp = published_dir / f".{CURRENT}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.relative_to(published_dir))
    os.replace(tmp, link)


def snapshot_dirs(published_dir: Path) -> list[Path]:
    """Complete snapshots, oldest first (ids start with the UTC publish time)."""
    root = published_dir / "snapshots"
    return sorted(p for p in root.glob("*") if p.is_dir() and not p.name.startswith("."))


def _prune(snapshots: Path, keep: int = KEEP_SNAPSHOTS) -> None:
    for old in snapshot_dirs(snapshots.parent)[:-keep]:
        shutil.rmtree(old)


def remove_snapshots_before(published_dir: Path, position: int) -> list[str]:
    """Delete every snapshot computed before event ``position`` except the current one (used
    after an erasure: older snapshots still hold the erased client). Returns the removed ids."""
    current = current_snapshot(published_dir)
    removed = []
    for snap in snapshot_dirs(published_dir):
        last = int(snap.name.rsplit("-p", 1)[1])
        if last < position and snap != current:
            shutil.rmtree(snap)
            removed.append(snap.name)
    return removed


def withdraw_current(published_dir: Path) -> str | None:
    """Take the current snapshot back (the audit found personal data in it): point `current`
    at the newest older snapshot, or at nothing, then delete it. Returns the withdrawn id."""
    current = current_snapshot(published_dir)
    if current is None:
        return None
    older = [p for p in snapshot_dirs(published_dir) if p != current]
    link = published_dir / CURRENT
    if older:
        _point_current(published_dir, older[-1])
    else:
        link.unlink()
    shutil.rmtree(current)
    return current.name


def current_snapshot(published_dir: Path) -> Path | None:
    """The current snapshot directory, or None before the first publish."""
    link = published_dir / CURRENT
    return link.resolve() if link.exists() else None


class NoSnapshot(Exception):
    pass


def snapshot_file(published_dir: Path, snapshot_id: str | None = None, part: str = "research"):
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}")
    folder = (
        published_dir / "snapshots" / snapshot_id
        if snapshot_id
        else current_snapshot(published_dir)
    )
    path = folder / f"{part}.duckdb" if folder else None
    if path is None or not path.exists():
        raise NoSnapshot(
            f"no published snapshot {snapshot_id or 'yet'} under {published_dir}: "
            "run `sealdeal build` and the build_insights DAG (or `sealdeal publish`) first"
        )
    return path


def published_snapshot(published_dir: Path) -> tuple[str, int] | None:
    """The current snapshot's id and the event-log position it is computed up to, read from
    the snapshot itself (`current` may move meanwhile); None when nothing is published."""
    try:
        con = open_snapshot(published_dir)
    except NoSnapshot:
        return None
    try:
        return con.execute("SELECT snapshot_id, last_event_position FROM meta.snapshot").fetchall()[
            0
        ]
    finally:
        con.close()


def open_snapshot(
    published_dir: Path, snapshot_id: str | None = None, part: str = "research"
) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the current (or a named) snapshot; DuckDB refuses any write."""
    return duckdb.connect(str(snapshot_file(published_dir, snapshot_id, part)), read_only=True)
