"""Running the projections and marts against the warehouse (the I/O edge of the transforms).

Incremental by default: staging tables take only events after the tracked position; only the
interviews those events touch are recomputed in `int_interviews` and `fct_interviews` (and the
rows of newly erased clients leave `fct_interviews`); the marts (small aggregates) are recomputed
from `fct_interviews`. The projections' rows and their tracked position commit in one
transaction, so a crash never leaves a projection ahead of or behind its position; the marts
follow in a second one with a tracked position of their own (``built_position`` refuses to
publish marts a stopped build left behind; the next build brings them up to date).
`--full` rebuilds from position 0 and must give exactly the same tables; `--as-of` builds a
separate database from the log up to a position (or time) to reproduce the marts as they were.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.core.events import DEBRIEF_SUBMITTED, ERASURE_REQUESTED, OUTCOME_RECORDED
from pipelines.core.settings import Settings
from pipelines.insights import projections as P
from pipelines.insights.marts import all_marts
from pipelines.privacy.erasure import TOMBSTONE_PREFIX
from warehouse import tables
from warehouse.store import EventStore, apply_schema, first_row

TRACKING_NAME = "projections"
MARTS_TRACKING_NAME = "marts"
# Each staging table and the event type it decodes.
STAGING = {
    "stg_debriefs": (DEBRIEF_SUBMITTED, P.stg_debriefs),
    "stg_outcomes": (OUTCOME_RECORDED, P.stg_outcomes),
    "stg_erasures": (ERASURE_REQUESTED, P.stg_erasures),
}
MART_TABLES = (tables.name(tables.FACT), *tables.MARTS)


class BuildIncomplete(RuntimeError):
    pass


@dataclass
class BuildReport:
    from_position: int
    to_position: int
    events: int
    interviews_recomputed: int
    seconds: float
    database: str
    rows: dict[str, int] = field(default_factory=dict)


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    if frame.is_empty():
        return
    con.register("_frame", frame.to_arrow())
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _frame")
    finally:
        con.unregister("_frame")


def _replace(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    con.execute(f"DELETE FROM {table}")
    _insert(con, table, frame)


def _read(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    return con.sql(sql, params=params).pl()


def staged_frames(
    store: EventStore, from_position: int, to_position: int, *, erasures_to: int | None = None
) -> dict[str, pl.DataFrame]:
    """The staging tables' rows for events from_position..to_position (erasures up to
    erasures_to, default the same), payloads decoded by the store; tombstones have nothing to
    project."""
    return {
        name: fn(
            store.read_payloads(
                event_type,
                P.PAYLOADS[event_type],
                from_position,
                erasures_to if event_type == ERASURE_REQUESTED and erasures_to else to_position,
                skip_stream_prefix=TOMBSTONE_PREFIX,
            ).lazy()
        ).collect()
        for name, (event_type, fn) in STAGING.items()
    }


class _Writer:
    """Runs a build's inserts in order on one background thread while Polars computes the
    next table: a DuckDB insert and a Polars query each keep only one of the two cores busy.

    The connection is used by this thread alone until the block ends; on leaving the block
    every write has finished (or the first error is raised), so the caller can commit or roll
    back safely.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="build-writer")
        self.pending: list[Future] = []

    def insert(self, table: str, frame: pl.DataFrame) -> None:
        """Queue an insert. Unordered inserts use both cores; readers that need an order (the
        publisher's detail tables) say ORDER BY."""
        self.pending.append(self.pool.submit(self._write, table, frame))

    def _write(self, table: str, frame: pl.DataFrame) -> None:
        self.con.execute("SET preserve_insertion_order = false")
        try:
            _insert(self.con, table, frame)
        finally:
            self.con.execute("RESET preserve_insertion_order")

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        if exc_type is not None:
            for future in self.pending:
                future.cancel()
        self.pool.shutdown(wait=True)
        if exc_type is None:
            for future in self.pending:
                future.result()  # re-raises the first failed insert


def project(con: duckdb.DuckDBPyConnection, staged: dict[str, pl.DataFrame], *, full: bool) -> int:
    """Apply new events' staged rows to the projections up to ``fct_interviews`` on `con`
    (inside the caller's transaction). Returns how many interviews were recomputed. Consumes
    `staged`. The marts are ``write_marts``'.

    A full build computes every table from the staged frames it holds, writing each while
    the next is computed; an incremental one reads back the touched interviews' whole history
    from staging.
    """
    if not full:
        for name, frame in staged.items():
            _insert(con, f"staging.{name}", frame)
        return _project_touched(con, staged)

    # Drop and recreate rather than DELETE: re-inserting a million keys that the same
    # transaction deleted is far slower in DuckDB than building fresh tables.
    for table in tables.PROJECTIONS:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    apply_schema(con)
    with _Writer(con) as writer:
        for name, frame in staged.items():
            writer.insert(f"staging.{name}", frame)
        interviews = P.int_interviews(
            staged["stg_debriefs"].lazy(), staged["stg_outcomes"].lazy()
        ).collect()
        erasures = staged["stg_erasures"]
        staged.clear()  # the writer keeps what it has still to insert, no longer
        writer.insert("intermediate.int_interviews", interviews)
        fct = P.fct_interviews(interviews.lazy(), erasures.lazy()).collect()
        recomputed = interviews.height
        del interviews
        writer.insert("marts.fct_interviews", fct)
    return recomputed


def write_marts(con: duckdb.DuckDBPyConnection, memory_limit: str) -> None:
    """Recompute every mart from ``fct_interviews`` (small aggregates over every interview)."""
    fct = _read(con, "SELECT * FROM marts.fct_interviews")
    _evict_cache(con, memory_limit)  # the estimates need the room more than the cache
    for name, frame in all_marts(fct).items():
        _replace(con, f"marts.{name}", frame)


def _marts_up_to(store: EventStore, position: int, memory_limit: str) -> None:
    """The marts, with their own tracked position, in a transaction after the projections':
    DuckDB holds a transaction's appended rows in memory until it commits (~0.8 GiB at a
    million interviews), and the estimates need that room."""
    with store.transaction() as con:
        write_marts(con, memory_limit)
        store.track_in(con, MARTS_TRACKING_NAME, position)


def _project_touched(con: duckdb.DuckDBPyConnection, staged: dict[str, pl.DataFrame]) -> int:
    touched = pl.concat(
        [staged[t].select("firm_id", "interview_key") for t in ("stg_debriefs", "stg_outcomes")]
    ).unique()
    erasures = _read(con, "SELECT * FROM staging.stg_erasures").lazy()
    if not touched.is_empty():
        con.register("_touched", touched.to_arrow())
        try:
            debriefs, outcomes = (
                _read(
                    con,
                    f"SELECT s.* FROM staging.{t} s JOIN _touched USING (firm_id, interview_key)",
                )
                for t in ("stg_debriefs", "stg_outcomes")
            )
            for table in ("intermediate.int_interviews", "marts.fct_interviews"):
                con.execute(
                    f"DELETE FROM {table} i USING _touched t "
                    "WHERE i.firm_id = t.firm_id AND i.interview_key = t.interview_key"
                )
        finally:
            con.unregister("_touched")
        interviews = P.int_interviews(debriefs.lazy(), outcomes.lazy()).collect()
        _insert(con, "intermediate.int_interviews", interviews)
        # fct rows depend only on their own interview and on the erasures: recompute the touched.
        _insert(
            con, "marts.fct_interviews", P.fct_interviews(interviews.lazy(), erasures).collect()
        )
    new_erasures = staged["stg_erasures"]
    if not new_erasures.is_empty():
        con.register("_erased", new_erasures.select("firm_id", "client_key").to_arrow())
        try:
            con.execute(
                "DELETE FROM marts.fct_interviews f USING _erased e "
                "WHERE f.firm_id = e.firm_id AND f.client_key = e.client_key"
            )
        finally:
            con.unregister("_erased")
    return touched.height


PROJECTION_SCHEMAS = ("staging", "intermediate", "marts")


def _columns(con: duckdb.DuckDBPyConnection) -> set[tuple]:
    return set(
        con.execute(
            "SELECT table_schema, table_name, column_name, data_type "
            "FROM information_schema.columns WHERE table_schema IN (?, ?, ?)",
            list(PROJECTION_SCHEMAS),
        ).fetchall()
    )


def projections_outdated(con: duckdb.DuckDBPyConnection) -> bool:
    """The warehouse's projection tables lack a column (or type) of the current schema: built
    by an older version, so only a full rebuild (which recreates them) can bring them up."""
    fresh = duckdb.connect()
    try:
        apply_schema(fresh)
        return not _columns(fresh) <= _columns(con)
    finally:
        fresh.close()


def _row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {t: first_row(con, f"SELECT count(*) FROM marts.{t}")[0] for t in MART_TABLES}


def _evict_cache(con: duckdb.DuckDBPyConnection, memory_limit: str) -> None:
    """Drop the blocks DuckDB kept cached from reading (up to its whole memory limit, ~1 GB
    at a million interviews): the frames read hold what the build needs now. Lowering the
    limit evicts; restoring it leaves the limit as set."""
    con.execute("SET memory_limit = '64MB'")
    con.execute("SET memory_limit = ?", [memory_limit])


def build(settings: Settings, *, full: bool = False) -> BuildReport:
    """Bring the warehouse's projections and marts up to the end of the event log."""
    started = time.perf_counter()
    limit = settings.duckdb_memory_limit
    with EventStore(settings.warehouse_path) as store:
        store.con.execute("SET memory_limit = ?", [limit])
        with store.transaction() as con:
            full = full or projections_outdated(con)
            start = 0 if full else store.tracked_position(TRACKING_NAME)
            end = store.max_position()
            staged = staged_frames(store, start + 1, end)
            _evict_cache(con, limit)
            touched = project(con, staged, full=full or start == 0)
            del staged
            store.track_in(con, TRACKING_NAME, end)
        # Also when nothing is new: it brings marts a stopped build left behind up to date.
        _marts_up_to(store, end, limit)
        rows = _row_counts(store.con)
    return BuildReport(
        start,
        end,
        end - start,  # positions are gap-free
        touched,
        time.perf_counter() - started,
        str(settings.warehouse_path),
        rows,
    )


def built_position(store: EventStore) -> int:
    """The log position the projections and the marts were both built to; an error when a
    build stopped between the two (the marts would not match fct_interviews)."""
    position = store.tracked_position(TRACKING_NAME)
    marts = store.tracked_position(MARTS_TRACKING_NAME)
    if marts != position:
        raise BuildIncomplete(
            f"the marts were built to log position {marts} but the projections to {position}: "
            "a build stopped between the two; run `sealdeal build` again"
        )
    return position


def resolve_position(store: EventStore, as_of: str) -> int:
    """A log position, given as a number or as an RFC 3339 time (last event recorded by then)."""
    if as_of.isdigit():
        return min(int(as_of), store.max_position())
    moment = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("--as-of time needs a time zone, e.g. 2026-03-02T18:00:00Z")
    return first_row(
        store.con,
        "SELECT coalesce(max(position), 0) FROM eventstore.events WHERE recorded_at <= ?",
        [moment],
    )[0]


def build_as_of(settings: Settings, as_of: str, out: Path | None = None) -> BuildReport:
    """Build projections and marts from the log up to `as_of` into a separate DuckDB file.

    Erasures are the exception to "as it was": every erasure in the log, however late, is
    applied, so reproducing the past never brings back a client who asked to be forgotten.
    """
    started = time.perf_counter()
    with EventStore(settings.warehouse_path) as store:
        position = resolve_position(store, as_of)
        staged = staged_frames(store, 1, position, erasures_to=store.max_position())
        (events,) = first_row(
            store.con,
            "SELECT count(*) FROM eventstore.events WHERE position <= ? OR event_type = ?",
            [position, ERASURE_REQUESTED],
        )
    out = out or settings.home / "as_of" / f"warehouse-at-{position}.duckdb"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with EventStore(out) as target:  # same schema files, empty log
        with target.transaction() as con:
            touched = project(con, staged, full=True)
            target.track_in(con, TRACKING_NAME, position)
        _marts_up_to(target, position, settings.duckdb_memory_limit)
        rows = _row_counts(target.con)
    return BuildReport(0, position, events, touched, time.perf_counter() - started, str(out), rows)
