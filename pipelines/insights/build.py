"""Running the projections and marts against the warehouse (the I/O edge of the transforms).

Incremental by default: staging tables take only events after the tracked position; only the
interviews those events touch are recomputed in `int_interviews` and `fct_interviews` (and the
rows of newly erased clients leave `fct_interviews`); the marts (small aggregates) are recomputed
from `fct_interviews`. The projections' rows and their tracked position commit in one
transaction, so a crash never leaves a projection ahead of or behind its position; the marts
follow in a second one with a tracked position of their own (``built_position`` refuses to
publish marts a stopped build left behind; the next build brings them up to date).
`--full` rebuilds from position 0 and must give exactly the same tables, in slices (chunks of
the log, then buckets of interviews) so its memory does not grow with the log; `--as-of` builds
a separate database from the log up to a position (or time) to reproduce the marts as they were.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.core.events import DEBRIEF_SUBMITTED, ERASURE_REQUESTED, OUTCOME_RECORDED
from pipelines.core.settings import Settings
from pipelines.insights import effects
from pipelines.insights import projections as P
from pipelines.insights.marts import MARTS, descriptive_marts
from pipelines.privacy.erasure import TOMBSTONE_PREFIX
from warehouse import tables
from warehouse.publish import sql_quoted
from warehouse.store import EventStore, apply_schema, first_row

TRACKING_NAME = "projections"
MARTS_TRACKING_NAME = "marts"
# Each staging table and the event type it decodes.
STAGING = {
    "stg_debriefs": (DEBRIEF_SUBMITTED, P.stg_debriefs),
    "stg_outcomes": (OUTCOME_RECORDED, P.stg_outcomes),
    "stg_erasures": (ERASURE_REQUESTED, P.stg_erasures),
}
# The staging tables that hold an interview's history.
HISTORY = ("stg_debriefs", "stg_outcomes")
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
    """Append a frame's rows to a table, by way of a Parquet file beside the database.

    DuckDB writes rows it reads from files straight to the database's blocks, but keeps rows
    scanned from an in-memory Arrow table in memory until the transaction commits: a full
    build at a million interviews held 3.5 GiB that way, 1.6 GiB through files.
    """
    if frame.is_empty():
        return
    with tempfile.TemporaryDirectory(prefix="sealdeal-build-", dir=spill_dir(con)) as tmp:
        path = Path(tmp) / "rows.parquet"
        frame.write_parquet(path, compression="uncompressed", statistics=False)
        _insert_files(con, table, [path])


def _insert_files(con: duckdb.DuckDBPyConnection, table: str, paths: list[Path]) -> None:
    if paths:
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?)",
            [[str(p) for p in paths]],
        )


def spill_dir(con: duckdb.DuckDBPyConnection) -> Path | None:
    """DuckDB's own spill folder beside the database file (None, the system's, in memory)."""
    (spill,) = first_row(con, "SELECT current_setting('temp_directory')")
    if not Path(spill).is_absolute():
        return None
    Path(spill).mkdir(parents=True, exist_ok=True)
    return Path(spill)


@contextmanager
def _log_reader(store: EventStore) -> Iterator[EventStore]:
    """The log on a connection of its own (the build's transaction belongs to its writer
    thread); it reads what was committed, which a build does not change."""
    reader = EventStore(
        store.database, connection=store.con.cursor(), read_only=True, upcasters=store.upcasters
    )
    try:
        yield reader
    finally:
        reader.close()


class _Writer:
    """Runs a full build's inserts in order on one background thread while the main thread
    decodes and computes the next slice: a DuckDB insert and a Polars query each keep only
    one of the two cores busy. At most `backlog` inserts wait, so slices do not pile up in
    memory.

    The connection is used by this thread alone until the block ends; on leaving the block
    every write has finished (or the first error is raised), so the caller can commit or roll
    back safely.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, backlog: int = 2):
        self.con = con
        self.backlog = backlog
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="build-writer")
        self.pending: list[Future] = []

    def insert(self, table: str, frame: pl.DataFrame) -> None:
        self._submit(_insert, self.con, table, frame)

    def insert_files(self, table: str, paths: list[Path]) -> None:
        self._submit(_insert_files, self.con, table, paths)

    def _submit(self, fn: Callable, *args: object) -> None:
        waiting = [f for f in self.pending if not f.done()]
        while len(waiting) >= self.backlog:
            wait(waiting, return_when=FIRST_COMPLETED)
            waiting = [f for f in waiting if not f.done()]
        for failed in (f for f in self.pending if f.done() and f.exception()):
            raise failed.exception()  # stop early: the transaction will be rolled back
        self.pending = [*waiting, self.pool.submit(fn, *args)]

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


def _replace(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    con.execute(f"DELETE FROM {table}")
    _insert(con, table, frame)


def _read(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    return con.sql(sql, params=params).pl()


# A full build stages the log this many events at a time and recomputes interviews in hash
# buckets of about this many: Polars then holds one slice, not a million interviews at once.
STAGE_CHUNK_EVENTS = 250_000
BUCKET_INTERVIEWS = 250_000


def staged_frames(
    store: EventStore, from_position: int, to_position: int, names: Iterable[str] = tuple(STAGING)
) -> dict[str, pl.DataFrame]:
    """The staging tables' rows (of the tables `names`) for events from_position..to_position,
    payloads decoded by the store; tombstones have nothing to project."""
    return {
        name: STAGING[name][1](
            store.read_payloads(
                STAGING[name][0],
                P.PAYLOADS[STAGING[name][0]],
                from_position,
                to_position,
                skip_stream_prefix=TOMBSTONE_PREFIX,
            ).lazy()
        ).collect()
        for name in names
    }


def project(
    store: EventStore,
    con: duckdb.DuckDBPyConnection,
    start: int,
    end: int,
    *,
    erasures_to: int | None = None,
) -> int:
    """Apply the log's events start+1..end (erasures up to `erasures_to`, default `end`) to the
    projections up to ``fct_interviews`` on `con`, inside the caller's transaction: `store`
    reads the log, `con` may be another warehouse's. Returns how many interviews were
    recomputed. The marts are ``write_marts``'.

    An incremental build stages the new events and recomputes the interviews they touch from
    their whole history in staging; a full one (start 0) rebuilds every table in slices.
    """
    if start == 0:
        return _project_full(store, con, end, erasures_to or end)
    staged = staged_frames(store, start + 1, end)
    for name, frame in staged.items():
        _insert(con, f"staging.{name}", frame)
    touched = pl.concat([staged[t].select("firm_id", "interview_key") for t in HISTORY]).unique()
    if not touched.is_empty():
        con.register("_touched", touched.to_arrow())
        try:
            for table in ("intermediate.int_interviews", "marts.fct_interviews"):
                con.execute(
                    f"DELETE FROM {table} i USING _touched t "
                    "WHERE i.firm_id = t.firm_id AND i.interview_key = t.interview_key"
                )
            _recompute_touched(con)
        finally:
            con.unregister("_touched")
    _drop_erased(con, staged["stg_erasures"])
    return touched.height


def _project_full(
    store: EventStore, con: duckdb.DuckDBPyConnection, end: int, erasures_to: int
) -> int:
    """Rebuild every projection table from the log in slices: events decoded a chunk at a
    time (each chunk's rows also filed by interview bucket), then interviews recomputed a
    bucket at a time; a writer thread inserts one slice while the next is computed."""
    # Drop and recreate rather than DELETE: re-inserting a million keys that the same
    # transaction deleted is far slower in DuckDB than building fresh tables.
    for table in tables.PROJECTIONS:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    apply_schema(con)
    with (
        _log_reader(store) as log,
        tempfile.TemporaryDirectory(prefix="sealdeal-build-", dir=spill_dir(con)) as tmp,
        _Writer(con) as writer,
    ):
        buckets = _bucket_count(log, end)
        parts = _staged_by_bucket(log, writer, end, buckets, Path(tmp))
        erasures = staged_frames(log, 1, erasures_to, ("stg_erasures",))["stg_erasures"]
        writer.insert("staging.stg_erasures", erasures)
        recomputed = 0
        for bucket in range(buckets):
            debriefs, outcomes = (parts.read(name, bucket) for name in HISTORY)
            interviews, fct = _interview_rows(debriefs, outcomes, erasures)
            del debriefs, outcomes
            recomputed += interviews.height
            writer.insert("intermediate.int_interviews", interviews)
            writer.insert("marts.fct_interviews", fct)
            del interviews, fct
    return recomputed


def _bucket_count(log: EventStore, end: int) -> int:
    (debriefs,) = first_row(
        log.con,
        "SELECT count(*) FROM eventstore.events WHERE event_type = ? AND position <= ?",
        [DEBRIEF_SUBMITTED, end],
    )
    return max(1, -(-debriefs // BUCKET_INTERVIEWS))


@dataclass
class _BucketFiles:
    """Staged rows filed as Parquet by table and interview bucket, for the bucket pass."""

    folder: Path
    schemas: dict[str, pl.Schema]

    def write(self, name: str, chunk: int, frame: pl.DataFrame, buckets: int) -> list[Path]:
        bucket = (pl.col("interview_key").hash(seed=0) % buckets).alias("_bucket")
        written = []
        for (number,), part in (
            frame.with_columns(bucket)
            .partition_by("_bucket", as_dict=True, include_key=False)
            .items()
        ):
            path = self.folder / name / f"{number}-{chunk}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            part.write_parquet(path, compression="uncompressed", statistics=False)
            written.append(path)
        return written

    def read(self, name: str, bucket: int) -> pl.DataFrame:
        paths = sorted((self.folder / name).glob(f"{bucket}-*.parquet"))
        return pl.read_parquet(paths) if paths else pl.DataFrame(schema=self.schemas[name])


def _staged_by_bucket(
    log: EventStore, writer: _Writer, end: int, buckets: int, folder: Path
) -> _BucketFiles:
    """Decode the log's debriefs and outcomes a chunk of positions at a time; each chunk's rows
    are filed by bucket and those files queued for the staging tables."""
    empty = staged_frames(log, 1, 0, HISTORY)
    parts = _BucketFiles(folder, {name: frame.schema for name, frame in empty.items()})
    for chunk, low in enumerate(range(1, end + 1, STAGE_CHUNK_EVENTS)):
        high = min(low + STAGE_CHUNK_EVENTS - 1, end)
        for name, frame in staged_frames(log, low, high, HISTORY).items():
            writer.insert_files(f"staging.{name}", parts.write(name, chunk, frame, buckets))
    return parts


def _interview_rows(
    debriefs: pl.DataFrame, outcomes: pl.DataFrame, erasures: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``int_interviews`` and ``fct_interviews`` rows of the interviews whose whole history
    is given (fct rows depend only on their own interview and on the erasures)."""
    interviews = P.int_interviews(debriefs.lazy(), outcomes.lazy()).collect()
    return interviews, P.fct_interviews(interviews.lazy(), erasures.lazy()).collect()


def _recompute_touched(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute ``int_interviews`` and ``fct_interviews`` for the interviews in ``_touched``,
    from their whole history in staging."""
    debriefs, outcomes = (
        _read(con, f"SELECT s.* FROM staging.{t} s JOIN _touched USING (firm_id, interview_key)")
        for t in HISTORY
    )
    erasures = _read(con, "SELECT * FROM staging.stg_erasures")
    interviews, fct = _interview_rows(debriefs, outcomes, erasures)
    _insert(con, "intermediate.int_interviews", interviews)
    _insert(con, "marts.fct_interviews", fct)


def _drop_erased(con: duckdb.DuckDBPyConnection, new_erasures: pl.DataFrame) -> None:
    """Newly erased clients' interviews leave ``fct_interviews``."""
    if new_erasures.is_empty():
        return
    con.register("_erased", new_erasures.select("firm_id", "client_key").to_arrow())
    try:
        con.execute(
            "DELETE FROM marts.fct_interviews f USING _erased e "
            "WHERE f.firm_id = e.firm_id AND f.client_key = e.client_key"
        )
    finally:
        con.unregister("_erased")


# The estimates hold the rounds of about this many interviews at once (a part of the clients).
ESTIMATE_PART_INTERVIEWS = 500_000


def write_marts(con: duckdb.DuckDBPyConnection, memory_limit: str) -> None:
    """Recompute every mart from ``fct_interviews`` (small aggregates over every interview),
    read from a Parquet copy: the descriptive marts by Polars' streaming engine, those of the
    rounds (the estimates, ``rounds_by_status``) a part of the clients at a time, so memory
    does not grow with the table."""
    (interviews,) = first_row(con, "SELECT count(*) FROM marts.fct_interviews")
    with tempfile.TemporaryDirectory(prefix="sealdeal-marts-", dir=spill_dir(con)) as tmp:
        path = Path(tmp) / "fct_interviews.parquet"
        con.execute(f"COPY marts.fct_interviews TO '{sql_quoted(str(path))}' (FORMAT parquet)")
        _evict_cache(con, memory_limit)  # the estimates need the room more than the cache
        fct = pl.scan_parquet(path)
        marts = descriptive_marts(fct)
        parts = -(-interviews // ESTIMATE_PART_INTERVIEWS)
        marts |= effects.round_marts(fct, parts, Path(tmp))
    for name in MARTS:
        _replace(con, f"marts.{name}", marts[name])


def _marts_up_to(store: EventStore, position: int, memory_limit: str) -> None:
    """The marts, with their own tracked position, in a transaction after the projections':
    an error in the estimates leaves the projections' work committed, and publishing waits
    (``built_position``) until a build has caught the marts up."""
    with store.transaction() as con:
        write_marts(con, memory_limit)
        store.track_in(con, MARTS_TRACKING_NAME, position)


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
            touched = project(store, con, start, end)
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
                touched = project(store, con, 0, position, erasures_to=store.max_position())
                target.track_in(con, TRACKING_NAME, position)
            store.close()  # the marts need only the copy: let ingests and builds have the log
            _marts_up_to(target, position, settings.duckdb_memory_limit)
            rows = _row_counts(target.con)
    return BuildReport(0, position, events, touched, time.perf_counter() - started, str(out), rows)
