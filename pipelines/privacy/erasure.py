"""Erasure in an append-only store: a tombstoned rewrite of the client's events, with the
erasure itself recorded (design and guarantees: docs/privacy.md).

When an ``ErasureRequested`` event is appended (from a landing file or `sealdeal erase`), in the
same transaction:

1. every event of that client — the erasure event included — keeps its position, type and
   firm but loses everything else: payload, pseudonym, stream, the firm's record id, source
   line and times (``stream_id`` becomes ``erased-<position>``, the payload ``{"erased_by": p}``).
   The log stays gap-free and its positions stay valid for every projection and snapshot id;
2. the client's rows leave every projection (staging, intermediate, fct) and the conflict log;
3. ``eventstore.erasures`` records the erasure with a token — an HMAC of the pseudonym under the
   firm's key, which no remaining row carries — used only to refuse the client's records if a
   firm sends them again.

After the commit, the raw landing files that held the client's records are rewritten without
them (their quarantine rows go too), derived ``as_of`` builds are deleted, and the next publish
deletes every older snapshot. Raw-file work that a crash interrupts stays pending in
``eventstore.erasures`` and is finished by the next ingest or erase.
"""

from __future__ import annotations

import csv
import functools
import hmac
import io
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.core.events import ERASURE_REQUESTED
from pipelines.core.settings import KeyMismatchError, Settings, key_fingerprint
from pipelines.landing.files import deliveries, file_hash
from pipelines.landing.records import iter_raw_chunks, landing_format
from pipelines.privacy.anonymise import (
    firm_key,
    keyed_digests,
    pseudonym,
    pseudonym_column,
    stored_name,
)
from warehouse import tables
from warehouse.store import EventStore, NewEvent, first_row

TOMBSTONE_PREFIX = "erased-"


def verify_key(con: duckdb.DuckDBPyConnection, master_key: bytes) -> None:
    """Refuse to write under a key other than the log's (recorded on the first write)."""
    mine = key_fingerprint(master_key)
    row = first_row(con, "SELECT fingerprint FROM eventstore.key_fingerprint")
    if row is None:
        con.execute("INSERT INTO eventstore.key_fingerprint VALUES (?, now())", [mine])
    elif row[0] != mine:
        raise KeyMismatchError(
            "this warehouse was written under another pseudonymisation key: appending under "
            "this one would split every client in two and make erasures miss their old rows. "
            "Use the warehouse's key, or rotate into a new SEALDEAL_HOME (docs/privacy.md)."
        )


ERASED = "erased"  # the kind prefix of erasure tokens


def erasure_token(master_key: bytes, firm_id: str, client_key: str) -> str:
    """What the erasure register keeps instead of the pseudonym (one-way, keyed per firm)."""
    material = ERASED.encode() + b"\x1f" + client_key.encode()
    return hmac.digest(_firm_key(master_key, firm_id), material, "sha256").hex()


# Every client of every ingested file is checked against the erasure register: deriving the
# firm's key once, not per client, halves that check's cost.
_firm_key = functools.lru_cache(maxsize=64)(firm_key)


@dataclass
class ErasureReport:
    clients: int = 0
    events_erased: int = 0
    rows_deleted: dict[str, int] = field(default_factory=dict)
    files_redacted: list[str] = field(default_factory=list)
    records_removed_from_files: int = 0
    as_of_removed: int = 0


def erase_in(
    con: duckdb.DuckDBPyConnection, master_key: bytes, erasures: pl.DataFrame
) -> ErasureReport:
    """Apply erasures inside the caller's transaction. ``erasures``: the ErasureRequested events
    just appended (position, firm_id, client_key, occurred_at)."""
    report = ErasureReport(clients=erasures.height)
    if erasures.is_empty():
        return report
    targets = erasures.select(
        "position",
        "firm_id",
        "client_key",
        pl.col("occurred_at").alias("requested_at"),
        pl.struct("firm_id", "client_key")
        .map_elements(
            lambda r: erasure_token(master_key, r["firm_id"], r["client_key"]),
            return_dtype=pl.String,
        )
        .alias("erased_token"),
    )
    con.register("_erase", targets.to_arrow())
    try:
        # Raw files to redact later: wherever the client's events came from, plus every file
        # of the firm with quarantined records and every held file (no events, raw data).
        pending = {}
        for position, firm, key in targets.select("position", "firm_id", "client_key").rows():
            rows = con.execute(
                "SELECT source_file FROM eventstore.events WHERE firm_id = ? AND client_key = ? "
                "UNION SELECT source_file FROM ingest.quarantine WHERE firm_id = ? "
                "UNION SELECT file_name FROM ingest.files WHERE status = 'held'",
                [firm, key, firm],
            ).fetchall()
            pending[position] = sorted(f for (f,) in rows if f)
        con.execute(
            "DELETE FROM eventstore.conflicts c USING eventstore.events e, _erase t "
            "WHERE e.firm_id = t.firm_id AND e.client_key = t.client_key "
            "AND c.firm_id = e.firm_id AND c.record_id = e.record_id"
        )
        # UPDATE and DELETE return how many rows they changed: no separate count.
        (report.events_erased,) = first_row(
            con,
            f"""
            UPDATE eventstore.events e SET
                stream_id = '{TOMBSTONE_PREFIX}' || e.position,
                stream_version = 1,
                record_id = '{TOMBSTONE_PREFIX}' || e.position,
                client_key = NULL,
                occurred_at = e.recorded_at,
                source_file = NULL,
                source_line = NULL,
                content_hash = '{TOMBSTONE_PREFIX}' || e.position,
                payload = json_object('erased_by', t.position),
                key_hash = eventstore.hash_of_key(e.firm_id, '{TOMBSTONE_PREFIX}' || e.position),
                stream_hash = eventstore.hash_of_stream('{TOMBSTONE_PREFIX}' || e.position)
            FROM _erase t
            WHERE e.firm_id = t.firm_id AND e.client_key = t.client_key
            """,
        )
        for table in tables.CLIENT_TABLES:
            (report.rows_deleted[table],) = first_row(
                con,
                f"DELETE FROM {table} r USING _erase t "
                "WHERE r.firm_id = t.firm_id AND r.client_key = t.client_key",
            )
        con.execute(
            "INSERT INTO eventstore.erasures "
            "SELECT position, firm_id, erased_token, requested_at, now(), ?, "
            "pending_files, NULL FROM _erase JOIN (SELECT unnest(?::BIGINT[]) AS position, "
            "unnest(?::VARCHAR[][]) AS pending_files) USING (position) "
            "ON CONFLICT DO NOTHING",
            [report.events_erased, list(pending), list(pending.values())],
        )
    finally:
        con.unregister("_erase")
    return report


def erasures_appended(con: duckdb.DuckDBPyConnection, first: int, last: int) -> pl.DataFrame:
    """The ErasureRequested events with first <= position <= last (still untouched)."""
    return con.sql(
        "SELECT position, firm_id, client_key, occurred_at FROM eventstore.events "
        "WHERE position BETWEEN ? AND ? AND event_type = ? AND client_key IS NOT NULL "
        "ORDER BY position",
        params=[first, last, ERASURE_REQUESTED],
    ).pl()


def erased_keys(
    con: duckdb.DuckDBPyConnection, master_key: bytes, candidates: pl.DataFrame
) -> pl.DataFrame:
    """Which (firm_id, client_key) pairs of ``candidates`` belong to erased clients."""
    tokens = con.sql("SELECT firm_id, erased_token FROM eventstore.erasures").pl()
    if tokens.is_empty() or candidates.is_empty():
        return candidates.clear().select("firm_id", "client_key")
    pairs = candidates.select("firm_id", "client_key").unique().drop_nulls()
    firms = tokens.get_column("firm_id").unique().implode()
    pairs = pairs.filter(pl.col("firm_id").is_in(firms))
    return (
        _with_erased_tokens(pairs, master_key)
        .join(tokens, on=["firm_id", "erased_token"], how="semi")
        .select("firm_id", "client_key")
    )


def _with_erased_tokens(pairs: pl.DataFrame, master_key: bytes) -> pl.DataFrame:
    """``pairs`` (firm_id, client_key) with their ``erased_token``: = erasure_token per client,
    each firm's clients hashed in one batch (client keys are pseudonyms, which normalise to
    themselves: tested)."""
    tokened = [
        clients.with_columns(
            pl.Series(
                "erased_token",
                keyed_digests(_firm_key(master_key, firm), ERASED, clients["client_key"], 64),
                pl.String,
            )
        )
        for (firm,), clients in pairs.partition_by("firm_id", as_dict=True).items()
    ]
    return (
        pl.concat(tokened) if tokened else pairs.with_columns(erased_token=pl.lit(None, pl.String))
    )


# -- raw landing files ---------------------------------------------------------------------


def _erased_lines(path: Path, master_key: bytes, tokens: set[tuple[str, str]]) -> set[int]:
    """Source lines of the records in ``path`` whose client is erased."""
    if not tokens:
        return set()
    register = pl.DataFrame(list(tokens), schema=["firm_id", "erased_token"], orient="row")
    lines: set[int] = set()
    for raw in iter_raw_chunks(path, fields=("firm_id", "client_ref")):
        pairs = (
            raw.select("firm_id", "client_ref")
            .unique()
            .drop_nulls()
            .join(register.select("firm_id").unique(), on="firm_id", how="semi")
        )
        hit = _with_erased_tokens(_with_client_keys(pairs, master_key), master_key).join(
            register, on=["firm_id", "erased_token"], how="semi"
        )
        if not hit.is_empty():
            matched = raw.join(hit, on=["firm_id", "client_ref"], how="semi")
            lines.update(matched.get_column("source_line").to_list())
    return lines


def _with_client_keys(refs: pl.DataFrame, master_key: bytes) -> pl.DataFrame:
    """(firm_id, client_ref) pairs with their ``client_key`` (= pseudonym per ref)."""
    return refs.with_columns(
        pseudonym_column(refs, master_key, "client", "client_ref").alias("client_key")
    )


def _without_lines(path: Path, drop: set[int]) -> bytes:
    """The file's bytes without the records that start on ``drop`` lines."""
    data = path.read_bytes()
    if landing_format(path) == "jsonl":
        # Lines as the readers number them: split at "\n" only. str.splitlines would also split
        # inside a note at a raw U+2028 or U+0085 (valid in a JSON string) and miscount.
        return b"".join(ln for i, ln in enumerate(io.BytesIO(data), 1) if i not in drop)
    text = data.decode("utf-8-sig")
    out = io.StringIO(newline="")
    reader = csv.reader(io.StringIO(text, newline=""))
    writer = csv.writer(out, lineterminator="\n")
    start = 1
    for row in reader:
        if start not in drop:
            writer.writerow(row)
        start = reader.line_num + 1
    return out.getvalue().encode()


def _all_tokens(store: EventStore) -> set[tuple[str, str]]:
    rows = store.con.execute("SELECT firm_id, erased_token FROM eventstore.erasures").fetchall()
    return {(f, t) for f, t in rows}


def redact_file(
    store: EventStore,
    path: Path,
    master_key: bytes,
    tokens: set[tuple[str, str]] | None = None,
    zone: str | None = None,
) -> int:
    """Rewrite one raw landing file without the records of erased clients (and drop their
    quarantine rows); the redacted file keeps its place in the manifest. Returns records
    removed."""
    drop = _erased_lines(path, master_key, tokens if tokens is not None else _all_tokens(store))
    if not drop:
        return 0
    old_hash = file_hash(path, zone)
    tmp = path.with_name(f".{path.name}.redacting")
    tmp.write_bytes(_without_lines(path, drop))
    os.replace(tmp, path)
    new_hash = file_hash(path, zone)
    lines = sorted(drop)
    with store.transaction() as con:
        con.execute(
            "DELETE FROM ingest.quarantine WHERE file_hash = ? "
            "AND list_contains(?::BIGINT[], source_line)",
            [old_hash, lines],
        )
        # The redacted file is the same delivery: it must not be taken in again.
        con.execute(
            "INSERT OR REPLACE INTO ingest.files SELECT ?, file_name, file_format, ?, status, "
            "coalesce(reason, 'redacted after an erasure'), records, 0, 0, 0, 0, NULL, NULL, "
            "now() FROM ingest.files WHERE content_hash = ?",
            [new_hash, path.stat().st_size, old_hash],
        )
    return len(drop)


def redact_pending(store: EventStore, settings: Settings, master_key: bytes) -> ErasureReport:
    """Finish the raw-file part of every erasure that still has it pending."""
    report = ErasureReport()
    pending = store.con.sql(
        "SELECT position, pending_files FROM eventstore.erasures "
        "WHERE raw_redacted_at IS NULL ORDER BY position"
    ).pl()
    if pending.is_empty():
        return report
    tokens = _all_tokens(store)
    wanted = {f for fs in pending["pending_files"].to_list() for f in fs or []}
    landing = settings.landing_dir
    for d in deliveries([landing], landing_dir=landing, single_firm=settings.single_firm):
        path = d.path
        if stored_name(path) in wanted and (
            n := redact_file(store, path, master_key, tokens, d.zone)
        ):
            report.files_redacted.append(stored_name(path))
            report.records_removed_from_files += n
    with store.transaction() as con:
        con.execute(
            "UPDATE eventstore.erasures SET raw_redacted_at = now() "
            "WHERE list_contains(?::BIGINT[], position)",
            [pending["position"].to_list()],
        )
    return report


def remove_as_of_builds(settings: Settings) -> int:
    """Derived as-of builds may predate the erasure: delete them (rebuild when needed)."""
    folder = settings.home / "as_of"
    if not folder.exists():
        return 0
    removed = len([p for p in folder.iterdir() if p.is_file()])
    shutil.rmtree(folder)
    return removed


def last_erasure_position(con: duckdb.DuckDBPyConnection) -> int:
    return first_row(con, "SELECT coalesce(max(position), 0) FROM eventstore.erasures")[0]


# -- from the command line -----------------------------------------------------------------


def erase_client(settings: Settings, master_key: bytes, firm_id: str, client_ref: str):
    """`sealdeal erase`: record the erasure and apply it everywhere, now."""
    client_key = pseudonym(master_key, firm_id, "client", client_ref)
    requested = datetime.now(UTC)
    token = erasure_token(master_key, firm_id, client_key)
    event = NewEvent(
        stream_id=f"client-{client_key}",
        event_type=ERASURE_REQUESTED,
        occurred_at=requested,
        firm_id=firm_id,
        record_id=f"cli-erasure-{token[:24]}-{requested:%Y%m%dT%H%M%S%f}",
        payload={
            "client_key": client_key,
            "requested_at": requested.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
        client_key=client_key,
    )
    with EventStore(settings.warehouse_path) as store:
        with store.transaction() as con:
            verify_key(con, master_key)  # a pseudonym under another key would match nobody
            result = store.append_in(con, [event])
            report = erase_in(
                con, master_key, erasures_appended(con, result.first_position, result.last_position)
            )
        files = redact_pending(store, settings, master_key)
        store.con.execute("CHECKPOINT")  # fold the rewrite into the file now, not some day
    report.files_redacted = files.files_redacted
    report.records_removed_from_files = files.records_removed_from_files
    report.as_of_removed = remove_as_of_builds(settings)
    return report
