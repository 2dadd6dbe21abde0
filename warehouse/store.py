"""The event store: an append-only, gap-free event log in DuckDB.

Modelled on how the `eventsourcing` library records events: a global position for every event
(the notification log projections follow), per-stream versions checked optimistically, a tracking
table so a projection records its position in the same transaction as its writes, and upcasters
that lift old payload versions on read.

The store is storage only: it knows nothing of debriefs. Callers hand it frames of new events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from warehouse import tables
from warehouse.lock import connect, leave_writer_note, remove_writer_note

SQL_DIR = Path(__file__).parent / "sql"

# Columns a caller provides for each new event; the store adds position, stream_version,
# recorded_at and content_hash.
NEW_EVENT_SCHEMA: dict[str, pl.DataType] = {
    "stream_id": pl.String(),
    "event_type": pl.String(),
    "schema_version": pl.Int16(),
    "occurred_at": pl.Datetime("us", "UTC"),
    "firm_id": pl.String(),
    "client_key": pl.String(),
    "record_id": pl.String(),
    "source_file": pl.String(),
    "source_line": pl.Int64(),
    "payload": pl.String(),
}

EVENT_COLUMNS = (
    "position",
    "stream_id",
    "stream_version",
    "event_type",
    "schema_version",
    "occurred_at",
    "recorded_at",
    "firm_id",
    "client_key",
    "record_id",
    "source_file",
    "source_line",
    "content_hash",
    "payload",
)


class EventStoreError(Exception):
    """Base class of the store's own errors."""


class ConcurrencyError(EventStoreError):
    """Another writer changed a stream (or the log) between our read and our commit."""


@dataclass(frozen=True)
class NewEvent:
    stream_id: str
    event_type: str
    occurred_at: datetime
    firm_id: str
    record_id: str
    payload: dict[str, Any]
    schema_version: int = 1
    client_key: str | None = None
    source_file: str | None = None
    source_line: int | None = None


@dataclass(frozen=True)
class StoredEvent:
    position: int
    stream_id: str
    stream_version: int
    event_type: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    firm_id: str
    client_key: str | None
    record_id: str
    source_file: str | None
    source_line: int | None
    content_hash: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class AppendResult:
    appended: int
    duplicates: int
    conflicts: int
    first_position: int | None
    last_position: int | None


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Upcasters:
    """Lifts payloads written under an older schema version to the current one, on read.

    Register one function per (event_type, from_version); they are chained until the event
    type's current version is reached, so stored events are never rewritten.
    """

    current: dict[str, int] = field(default_factory=dict)
    steps: dict[tuple[str, int], Upcaster] = field(default_factory=dict)

    def register(self, event_type: str, from_version: int, fn: Upcaster) -> None:
        self.steps[(event_type, from_version)] = fn
        self.current[event_type] = max(self.current.get(event_type, 1), from_version + 1)

    def upcast(self, event_type: str, version: int, payload: dict[str, Any]) -> tuple[int, dict]:
        target = self.current.get(event_type, version)
        while version < target:
            step = self.steps.get((event_type, version))
            if step is None:
                raise EventStoreError(f"no upcaster for {event_type} v{version}")
            payload = step(payload)
            version += 1
        return version, payload


def new_events_frame(events: Iterable[NewEvent]) -> pl.DataFrame:
    """Turn NewEvent objects into the frame `EventStore.append` takes."""
    rows = [
        {
            "stream_id": e.stream_id,
            "event_type": e.event_type,
            "schema_version": e.schema_version,
            "occurred_at": e.occurred_at,
            "firm_id": e.firm_id,
            "client_key": e.client_key,
            "record_id": e.record_id,
            "source_file": e.source_file,
            "source_line": e.source_line,
            "payload": json.dumps(e.payload, sort_keys=True, separators=(",", ":")),
        }
        for e in events
    ]
    return pl.DataFrame(rows, schema=NEW_EVENT_SCHEMA)


def _is_key_taken(exc: duckdb.ConstraintException) -> bool:
    # The append never repeats a key of its own, so a duplicate key (the position key; in
    # warehouses created with them, the record and stream-version indexes) is another writer's.
    # Other constraint errors are the data's. Tests pin DuckDB's wording.
    return "Duplicate key" in str(exc)


def _drop_append_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop what an append staged. In a transaction an error aborted, the caller's rollback
    drops them, and that error (not this cleanup's) is the one to report."""
    try:
        for statement in (
            "DROP VIEW IF EXISTS _incoming_raw",
            "DROP TABLE IF EXISTS _hashed",
            "DROP TABLE IF EXISTS _logged",
            "DROP TABLE IF EXISTS _incoming",
            "DROP TABLE IF EXISTS _fresh",
        ):
            con.execute(statement)
    except duckdb.TransactionException:
        pass


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple | None:
    """The first row of a query, with the result fully consumed (DuckDB 2 refuses further work
    on a connection whose last result was only partly fetched)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def apply_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Run every schema file in warehouse/sql in name order (each is idempotent), unless the
    warehouse was last brought up to these very files and still has every table (a build drops
    the projections it rebuilds and calls this to recreate them)."""
    texts = [sql_file.read_text() for sql_file in sorted(SQL_DIR.glob("*.sql"))]
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()
    if _schema_is_current(con, digest):
        return
    for text in texts:
        con.execute(text)
    _fill_log_hashes(con)
    con.execute("DELETE FROM eventstore.schema_applied")
    con.execute("INSERT INTO eventstore.schema_applied VALUES (?, now())", [digest])


# Events per statement when a log from before the key and stream hashes gets them: one UPDATE
# of a 20M-event log held 3.7 GiB until it committed; each slice is committed (and
# checkpointed) on its own, outside a transaction.
HASH_FILL_EVENTS = 250_000


def _fill_log_hashes(con: duckdb.DuckDBPyConnection) -> None:
    low, high = first_row(
        con,
        "SELECT min(position), max(position) FROM eventstore.events "
        "WHERE key_hash IS NULL OR stream_hash IS NULL",
    )
    for start in range(low or 1, (high or 0) + 1, HASH_FILL_EVENTS):
        con.execute(
            "UPDATE eventstore.events SET key_hash = eventstore.hash_of_key(firm_id, record_id), "
            "stream_hash = eventstore.hash_of_stream(stream_id) "
            "WHERE position BETWEEN ? AND ? AND (key_hash IS NULL OR stream_hash IS NULL)",
            [start, start + HASH_FILL_EVENTS - 1],
        )


def _schema_is_current(con: duckdb.DuckDBPyConnection, digest: str) -> bool:
    expected = [*tables.PROJECTIONS, *tables.LOG]
    try:
        applied = first_row(con, "SELECT digest FROM eventstore.schema_applied")
    except duckdb.CatalogException:  # a new warehouse, or one from before this table
        return False
    if applied is None or applied[0] != digest:
        return False
    present = first_row(
        con,
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE schema_name || '.' || table_name IN (SELECT unnest(?::VARCHAR[]))",
        [expected],
    )[0]
    return present == len(expected)


class EventStore:
    """Event log on one DuckDB connection (a file path, or ':memory:')."""

    def __init__(
        self,
        database: str | Path = ":memory:",
        *,
        upcasters: Upcasters | None = None,
        read_only: bool = False,
        connection: duckdb.DuckDBPyConnection | None = None,
    ):
        self.database = str(database)
        writes_a_file = connection is None and not read_only and self.database != ":memory:"
        if writes_a_file:
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        # Waits while another process holds the file (warehouse.lock), then says who writes.
        self.con = connection or connect(self.database, read_only=read_only)
        self._writer_note = leave_writer_note(self.database) if writes_a_file else None
        self.upcasters = upcasters or Upcasters()
        if not read_only:
            apply_schema(self.con)

    def close(self) -> None:
        self.con.close()
        if self._writer_note is not None:
            remove_writer_note(self._writer_note)
            self._writer_note = None

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One atomic unit: everything done on the yielded connection commits or none of it."""
        self.con.begin()
        try:
            yield self.con
        except BaseException:
            self.con.rollback()
            raise
        try:
            self.con.commit()
        except duckdb.TransactionException as exc:
            raise ConcurrencyError(
                f"another writer committed first ({exc}); nothing was written, retry the batch"
            ) from exc

    def append(
        self,
        events: pl.DataFrame | Iterable[NewEvent],
        expected_versions: dict[str, int] | None = None,
    ) -> AppendResult:
        """Append a batch atomically: all of it (less duplicates and conflicts) or nothing.

        Idempotent on (firm_id, record_id): an identical event already stored counts as a
        duplicate; the same key with different content is recorded in eventstore.conflicts and
        never overwrites. `expected_versions` maps stream ids to the version the caller last saw
        (0 = new stream); a mismatch raises ConcurrencyError and writes nothing.
        """
        with self.transaction() as con:
            return self.append_in(con, events, expected_versions)

    def append_in(
        self,
        con: duckdb.DuckDBPyConnection,
        events: pl.DataFrame | Iterable[NewEvent] | duckdb.DuckDBPyRelation,
        expected_versions: dict[str, int] | None = None,
    ) -> AppendResult:
        """`append` inside a transaction the caller owns (to commit other writes with it)."""
        if isinstance(events, duckdb.DuckDBPyRelation):
            # Bulk path (e.g. staged Parquet): the relation must carry a batch_order column.
            events.create_view("_incoming_raw", replace=True)
        else:
            frame = events if isinstance(events, pl.DataFrame) else new_events_frame(events)
            frame = frame.select(
                [pl.col(c).cast(t) for c, t in NEW_EVENT_SCHEMA.items()]
            ).with_row_index("batch_order")
            con.register("_incoming_raw", frame.to_arrow())
        try:
            if expected_versions:
                self._check_expected_versions(con, expected_versions)
            return self._append_staged(con)
        except duckdb.ConstraintException as exc:
            if not _is_key_taken(exc):  # bad data (a NULL where none may be): as it is
                raise
            raise ConcurrencyError(
                f"another writer appended first ({exc}); nothing was written, retry the batch"
            ) from exc
        finally:
            _drop_append_tables(con)

    def _check_expected_versions(self, con: duckdb.DuckDBPyConnection, expected: dict[str, int]):
        rows = con.execute(
            "SELECT s.stream_id, coalesce(max(e.stream_version), 0) "
            "FROM unnest(?::VARCHAR[]) AS s(stream_id) "
            "LEFT JOIN eventstore.events e USING (stream_id) GROUP BY s.stream_id",
            [list(expected)],
        ).fetchall()
        stale = {sid: v for sid, v in rows if v != expected[sid]}
        if stale:
            detail = ", ".join(f"{s} is at v{v}, expected v{expected[s]}" for s, v in stale.items())
            raise ConcurrencyError(f"stream changed since it was read: {detail}")

    def _append_staged(self, con: duckdb.DuckDBPyConnection) -> AppendResult:
        # Classify every incoming row against the log and the batch by its key and content hash
        # (key_rank 1: the batch's first row of its key). Payloads stay in _incoming_raw: this
        # small table carries everything else, the new rows' positions and versions included,
        # so the insert below only joins the payloads to it.
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _hashed AS
            SELECT batch_order, firm_id, record_id, stream_id, source_file, source_line,
                   sha256(event_type || chr(31) || stream_id || chr(31) || payload)
                       AS content_hash,
                   eventstore.hash_of_key(firm_id, record_id) AS key_hash,
                   eventstore.hash_of_stream(stream_id) AS stream_hash
            FROM _incoming_raw
            """
        )
        # The batch's keys already in the log: found by their hashes (one column scanned), then
        # read and matched on the keys themselves. Usually none, and then nothing more is read.
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _logged AS
            SELECT firm_id, record_id, position, content_hash FROM eventstore.events
            WHERE position IN (
                SELECT position FROM eventstore.events
                WHERE key_hash IN (SELECT key_hash FROM _hashed)
            )
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _incoming AS
            WITH firsts AS (
                SELECT firm_id, record_id, min(batch_order) AS first_order,
                       arg_min(content_hash, batch_order) AS first_hash
                FROM _hashed GROUP BY firm_id, record_id
            )
            SELECT h.*, if(h.batch_order = f.first_order, 1, 2) AS key_rank, f.first_hash,
                   l.position AS existing_position, l.content_hash AS existing_hash
            FROM _hashed h
            JOIN firsts f USING (firm_id, record_id)
            LEFT JOIN _logged l USING (firm_id, record_id)
            """
        )
        counts = first_row(
            con,
            """
            SELECT
              count(*) FILTER (WHERE existing_hash IS NULL AND key_rank = 1),
              count(*) FILTER (WHERE coalesce(existing_hash, first_hash) = content_hash
                               AND NOT (existing_hash IS NULL AND key_rank = 1)),
              count(*) FILTER (WHERE coalesce(existing_hash, first_hash) <> content_hash)
            FROM _incoming
            """,
        )
        new, duplicates, conflicts = (int(x) for x in counts)
        con.execute(
            """
            INSERT INTO eventstore.conflicts
            SELECT firm_id, record_id, content_hash, existing_position,
                   coalesce(existing_hash, first_hash), source_file, source_line, now()
            FROM _incoming
            WHERE coalesce(existing_hash, first_hash) <> content_hash
            -- The same content twice in the batch: noted once, where it first came.
            QUALIFY row_number()
                OVER (PARTITION BY firm_id, record_id, content_hash ORDER BY batch_order) = 1
            ON CONFLICT DO NOTHING
            """
        )
        if new == 0:
            return AppendResult(0, duplicates, conflicts, None, None)
        base = first_row(con, "SELECT coalesce(max(position), 0) FROM eventstore.events")[0]
        # Positions and stream versions continue where the log ends; a concurrent writer that
        # takes the same positions makes one of the two commits fail (the position key).
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _fresh AS
            WITH fresh AS (
                SELECT batch_order, stream_id, content_hash, key_hash, stream_hash
                FROM _incoming WHERE existing_hash IS NULL AND key_rank = 1
            ), heads AS (
                SELECT stream_hash, max(stream_version) AS head
                FROM eventstore.events
                WHERE stream_hash IN (SELECT DISTINCT stream_hash FROM fresh)
                GROUP BY stream_hash
            )
            SELECT f.batch_order, f.content_hash, f.key_hash, f.stream_hash,
                   ? + row_number() OVER (ORDER BY f.batch_order) AS position,
                   coalesce(h.head, 0)
                       + row_number() OVER (PARTITION BY f.stream_id ORDER BY f.batch_order)
                       AS stream_version
            FROM fresh f LEFT JOIN heads h USING (stream_hash)
            """,
            [base],
        )
        con.execute(
            """
            INSERT INTO eventstore.events BY NAME
            SELECT n.position, r.stream_id, n.stream_version, r.event_type, r.schema_version,
                   r.occurred_at, now() AS recorded_at, r.firm_id, r.client_key, r.record_id,
                   r.source_file, r.source_line, n.content_hash, r.payload, n.key_hash,
                   n.stream_hash
            FROM _incoming_raw r JOIN _fresh n USING (batch_order)
            """
        )
        return AppendResult(new, duplicates, conflicts, base + 1, base + new)

    # -- reading ---------------------------------------------------------------------------

    def max_position(self) -> int:
        return first_row(self.con, "SELECT coalesce(max(position), 0) FROM eventstore.events")[0]

    def stream_version(self, stream_id: str) -> int:
        return first_row(
            self.con,
            "SELECT coalesce(max(stream_version), 0) FROM eventstore.events WHERE stream_id = ?",
            [stream_id],
        )[0]

    def read_frame(self, from_position: int = 1, to_position: int | None = None) -> pl.DataFrame:
        """Events with from_position <= position <= to_position, in order, as a Polars frame.

        Payloads stay JSON text (projections decode only the fields they need); rows whose
        schema_version is behind are upcast here so readers only ever see current payloads.
        """
        frame = self.con.sql(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM eventstore.events "
            "WHERE position >= ? AND position <= ? ORDER BY position",
            params=[from_position, _upper(to_position)],
        ).pl()
        return self._upcast_frame(frame)

    def read_payloads(
        self,
        event_type: str,
        payload: pl.Struct,
        from_position: int = 1,
        to_position: int | None = None,
        *,
        skip_stream_prefix: str | None = None,
    ) -> pl.DataFrame:
        """Events of one type, in order, with the payload decoded by DuckDB into the struct
        `payload` (fields missing from an event are null, keys not asked for are ignored):
        columns position, event_type, firm_id, payload.

        DuckDB's JSON reader takes half the time of decoding text in Polars and needs no
        second copy of a million payloads; old schema versions are upcast first, as on every
        read. Streams starting with `skip_stream_prefix` (tombstones) are left out.
        """
        where = ["event_type = ?", "position >= ?", "position <= ?"]
        params: list[Any] = [event_type, from_position, _upper(to_position)]
        if skip_stream_prefix is not None:
            where.append("NOT starts_with(stream_id, ?)")
            params.append(skip_stream_prefix)
        source = f"FROM eventstore.events WHERE {' AND '.join(where)}"
        rows = f"SELECT position, firm_id, payload {source}"
        current = self.upcasters.current.get(event_type)
        if current is not None:
            behind = self.con.sql(
                f"SELECT event_type, schema_version, position, firm_id, payload {source} "
                "AND schema_version < ?",
                params=[*params, current],
            ).pl()
            upcast = self._upcast_frame(behind).select("position", "firm_id", "payload")
            self.con.register("_upcast", upcast.to_arrow())
            rows = f"{rows} AND schema_version >= ? UNION ALL SELECT * FROM _upcast"
            params.append(current)
        try:
            return self.con.sql(
                f"SELECT position, ?::VARCHAR AS event_type, firm_id, "
                f"json_transform(payload, ?) AS payload FROM ({rows}) ORDER BY position",
                params=[event_type, json.dumps(_json_structure(payload)), *params],
            ).pl()
        finally:
            if current is not None:
                self.con.unregister("_upcast")

    def _upcast_frame(self, frame: pl.DataFrame) -> pl.DataFrame:
        if not self.upcasters.current or frame.is_empty():
            return frame
        behind = pl.lit(False)
        for event_type, version in self.upcasters.current.items():
            behind = behind | (
                (pl.col("event_type") == event_type) & (pl.col("schema_version") < version)
            )
        mask = frame.select(behind.alias("b"))["b"]
        if not mask.any():
            return frame
        versions, payloads = [], []
        for row in frame.filter(mask).iter_rows(named=True):
            v, p = self.upcasters.upcast(
                row["event_type"], row["schema_version"], json.loads(row["payload"])
            )
            versions.append(v)
            payloads.append(json.dumps(p, sort_keys=True, separators=(",", ":")))
        idx = mask.arg_true()
        return frame.with_columns(
            frame["schema_version"].scatter(idx, pl.Series(versions, dtype=pl.Int16)),
            frame["payload"].scatter(idx, pl.Series(payloads, dtype=pl.String)),
        )

    def read(self, from_position: int = 1, to_position: int | None = None) -> list[StoredEvent]:
        return _to_events(self.read_frame(from_position, to_position))

    def read_stream(self, stream_id: str) -> list[StoredEvent]:
        frame = self.con.sql(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM eventstore.events "
            "WHERE stream_id = ? ORDER BY stream_version",
            params=[stream_id],
        ).pl()
        return _to_events(self._upcast_frame(frame))

    # -- tracking --------------------------------------------------------------------------

    def tracked_position(self, projection: str) -> int:
        row = first_row(
            self.con, "SELECT position FROM eventstore.tracking WHERE projection = ?", [projection]
        )
        return row[0] if row else 0

    @staticmethod
    def track_in(con: duckdb.DuckDBPyConnection, projection: str, position: int) -> None:
        """Record a projection's position; call inside the transaction that wrote its output."""
        con.execute(
            "INSERT INTO eventstore.tracking VALUES (?, ?, now()) "
            "ON CONFLICT (projection) DO UPDATE SET position = excluded.position, "
            "updated_at = excluded.updated_at",
            [projection, position],
        )


def _upper(to_position: int | None) -> int:
    return to_position if to_position is not None else 2**62


_JSON_TYPES = {pl.Int64: "BIGINT", pl.Int32: "INTEGER", pl.Boolean: "BOOLEAN", pl.String: "VARCHAR"}


def _json_structure(dtype: pl.DataType) -> Any:
    """A Polars type as the structure argument of DuckDB's json_transform."""
    if isinstance(dtype, pl.Struct):
        return {f.name: _json_structure(f.dtype) for f in dtype.fields}
    if isinstance(dtype, pl.List):
        return [_json_structure(dtype.inner)]
    return _JSON_TYPES[dtype.base_type()]


def _to_events(frame: pl.DataFrame) -> list[StoredEvent]:
    return [
        StoredEvent(**{**row, "payload": json.loads(row["payload"])})
        for row in frame.iter_rows(named=True)
    ]
