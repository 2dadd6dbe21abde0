"""Ingestion of landing files: parse -> type -> validate -> anonymise -> events -> append.

A file is read in chunks; each chunk's events and quarantined records are staged as Parquet
(already anonymised, so nothing identifying touches the disk). Only when the whole file has been
read is it appended, in ONE transaction with its quarantine rows and its manifest entry: a crash
at any point leaves either all of the file or none of it, and a rerun redoes it from scratch.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import tempfile
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines.core import spec
from pipelines.core.events import events_from_records
from pipelines.core.settings import Settings
from pipelines.ingest.validate import PendingAudit, RecordValidator
from pipelines.landing.files import Delivery, deliveries, file_hash
from pipelines.landing.records import (
    FileUnusable,
    iter_raw_chunks,
    landing_format,
    typed_records,
)
from pipelines.privacy.anonymise import anonymised_records, stored_name
from pipelines.privacy.erasure import (
    erase_in,
    erased_keys,
    erasures_appended,
    redact_file,
    redact_pending,
    remove_as_of_builds,
    verify_key,
)
from pipelines.privacy.scrub import scrub_texts
from warehouse.store import AppendResult, EventStore, first_row

MAX_BAD_SHARE = 0.5  # above this a file is held whole: it is more likely the wrong file
# Records per shared validation (one GX audit run). Three runs each of the bench's ingest at 1M
# interviews: 200k peaked at 1.69, 1.71 and 2.04 GiB, 100k at 1.45-1.59 GiB, in the same time
# (130-141 s either way): fewer typed chunks wait at once, and the runs' fixed cost is small.
GX_ROWS = 100_000
# Records per GX audit run: consecutive validation groups share one checkpoint run over their
# audit samples (each group still samples its own rows), its fixed cost being most of it
# (~1 s: 16 runs took 26.8 s of preparing 1M interviews, 5 runs 10.7 s). Their files wait,
# staged on disk.
AUDIT_ROWS = 400_000
FAILPOINT_ENV = "SEALDEAL_FAILPOINT"
STAGED = "uncompressed"
STAGING_THREADS = 2


class FileHeld(Exception):
    """A whole file was refused; nothing of it was appended. The message says why."""


@dataclass
class FileReport:
    file: str
    content_hash: str
    status: str  # ingested | already_ingested | held
    reason: str | None = None
    zone: str | None = None  # the firm whose landing zone the file came through
    records: int = 0
    events_appended: int = 0
    duplicates: int = 0
    conflicts: int = 0
    quarantined: int = 0
    misdelivered: int = 0  # quarantined for naming another firm than the zone's
    erased_skipped: int = 0  # records of clients erased earlier: refused, stored nowhere
    erasures: int = 0
    quarantine_reasons: Counter = field(default_factory=Counter)


def already_ingested(con: duckdb.DuckDBPyConnection, content_hash: str) -> bool:
    row = first_row(
        con,
        "SELECT 1 FROM ingest.files WHERE content_hash = ? AND status = 'ingested'",
        [content_hash],
    )
    return row is not None


def with_reasons(typed: pl.DataFrame, failures: pl.DataFrame) -> pl.DataFrame:
    """Typed records with `reasons`: every value that could not be read, every rule broken."""
    rules = pl.when(pl.col("is_unreadable")).then([]).otherwise(pl.col("failed_rules"))
    return typed.join(failures, on="source_line", how="left", maintain_order="left").select(
        pl.exclude("parse_errors", "failed_rules", "is_unreadable"),
        pl.concat_list("parse_errors", rules.fill_null([]))
        .list.unique(maintain_order=True)
        .alias("reasons"),
    )


def with_zone_check(checked: pl.DataFrame, zone: str) -> pl.DataFrame:
    """Checked records, those naming another firm than their delivery zone refused first."""
    firm = pl.col("firm_id")
    misdelivered = firm.str.contains(spec.FIRM_ID_PATTERN) & (firm != zone)
    why = pl.format("record names firm {} but was delivered in firm {}'s zone", firm, pl.lit(zone))
    return checked.with_columns(
        pl.when(misdelivered)
        .then(pl.concat_list(why, "reasons"))
        .otherwise("reasons")
        .alias("reasons"),
        misdelivered.fill_null(False).alias("is_misdelivered"),
    )


def quarantine_rows(rejected: pl.DataFrame, zone: str) -> pl.DataFrame:
    """Rows for ingest.quarantine: where the record is and why, never what it said; the firm is
    the delivering zone's (the one that can fix it at the source)."""
    well_formed_id = pl.col("record_id").str.contains(r"^[A-Za-z0-9._:/#-]{1,128}$")
    return rejected.select(
        "source_line",
        pl.lit(zone).alias("firm_id"),
        pl.when(well_formed_id).then("record_id").alias("record_id"),
        pl.when(pl.col("record_type").is_in(spec.RECORD_TYPES)).then("record_type"),
        "reasons",
    )


def _failpoint(name: str) -> None:
    # Fault injection for the crash tests: the process dies here, mid-transaction, for real.
    if os.environ.get(FAILPOINT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class PreparedFile:
    """A landing file read, validated and anonymised, its events staged as Parquet in `stage`;
    nothing of it is in the warehouse yet. `held` says why the whole file is refused."""

    path: Path
    report: FileReport
    fmt: str | None = None
    stage: Path | None = None
    held: str | None = None
    done: bool = False  # every chunk read

    def discard(self) -> None:
        if self.stage is not None:
            shutil.rmtree(self.stage, ignore_errors=True)
            self.stage = None


@dataclass
class _Chunk:
    """One chunk of a file, read and typed, waiting for its GX run."""

    prepared: PreparedFile
    n: int
    typed: pl.DataFrame


def prepare_files(
    files: Iterable[Delivery],
    *,
    con: duckdb.DuckDBPyConnection | None,
    master_key: bytes,
    validator: RecordValidator,
    settings: Settings,
    on_records: Callable[[int], None] | None = None,
    gx_rows: int = GX_ROWS,
    audit_rows: int = AUDIT_ROWS,
) -> Iterator[PreparedFile]:
    """Parse, type, validate and anonymise files into staged events, yielding them in order
    (the part of an ingest that needs no write access: `con` is only asked what is already in;
    without it, as on a worker that never opens DuckDB, the commit alone skips what is in).

    Chunks of consecutive files share a validation, and so one GX audit run, until it holds
    gx_rows records: a run's fixed cost (~0.6-0.8 s) was most of the validation time of a typical
    40k-record file. A file is yielded only once the audit covering its records has passed. More
    records per audit would mean fewer runs but more typed chunks in memory and more files
    released at once, which stalls this generator behind the committer's bounded hand-off.
    Groups up to audit_rows records share the GX run that audits them (each its own sample),
    their files staged meanwhile and released only once it has passed.
    """
    files = list(files)
    scrub_texts([d.path.name for d in files])  # every stored name in one scrubber query
    chunks: list[_Chunk] = []  # read, awaiting validation
    queue: deque[PreparedFile] = deque()  # in file order; the head leaves once fully staged
    pending: list[PendingAudit] = []  # validated and staged groups, awaiting their GX audit
    unaudited: list[PreparedFile] = []  # files with records in those groups

    def validate_chunks() -> None:
        if not chunks:
            return
        names = [f"{c.prepared.report.file}#{c.n}" for c in chunks]
        batch = names[0] if len(names) == 1 else f"{names[0]} +{len(names) - 1} more"
        results, audit = validator.check_many([c.typed for c in chunks], batch)
        staged = stagers.map(_stage_chunk, chunks, results, [master_key] * len(chunks))
        for chunk, counts in zip(chunks, staged, strict=True):
            _add_counts(chunk.prepared.report, counts)
            if on_records:
                on_records(chunk.typed.height)
        pending.append(audit)
        unaudited.extend(c.prepared for c in chunks)
        chunks.clear()
        if sum(p.rows for p in pending) >= audit_rows:
            audit_groups()

    def audit_groups() -> None:
        if pending:
            validator.audit(pending)
        pending.clear()
        unaudited.clear()

    def ready() -> Iterator[PreparedFile]:
        waiting = {id(c.prepared) for c in chunks} | {id(f) for f in unaudited}
        while queue and (queue[0].done and id(queue[0]) not in waiting):
            yield _checked_share(queue.popleft())

    # A validation group's chunks are anonymised and staged side by side: most of that is
    # Polars' regex passes and hashing, with the GIL released.
    stagers = ThreadPoolExecutor(STAGING_THREADS, thread_name_prefix="ingest-stage")
    try:
        for delivery in files:
            path = delivery.path
            prepared = _start(delivery, con, settings)
            queue.append(prepared)
            if prepared.stage is not None:
                try:
                    prepared.fmt = landing_format(path)
                    for n, raw in enumerate(iter_raw_chunks(path)):
                        chunks.append(_Chunk(prepared, n, typed_records(raw.lazy()).collect()))
                        if sum(c.typed.height for c in chunks) >= gx_rows:
                            validate_chunks()
                            yield from ready()
                except FileUnusable as exc:
                    chunks[:] = [c for c in chunks if c.prepared is not prepared]
                    prepared.discard()
                    prepared.held = str(exc).replace(path.name, prepared.report.file)
            prepared.done = True
            yield from ready()
        validate_chunks()
        audit_groups()
        yield from ready()
    finally:  # stopped early (an error, or the consumer gave up): leave no staged files
        stagers.shutdown(cancel_futures=True)
        for prepared in queue:
            prepared.discard()


def prepare_file(delivery: Delivery, **kwargs: Any) -> PreparedFile:
    """`prepare_files` for one file."""
    (prepared,) = prepare_files([delivery], **kwargs)
    return prepared


def landing_deliveries(
    paths: Iterable[Path], settings: Settings, firm: str | None = None
) -> list[Delivery]:
    """Files and folders to ingest, with the firm zone each came through (`firm`: the firm
    that delivered them all, as in a single-firm deployment)."""
    return deliveries(
        paths, landing_dir=settings.landing_dir, single_firm=firm or settings.single_firm
    )


def skipped_if_ingested(
    delivery: Delivery, con: duckdb.DuckDBPyConnection, content_hash: str | None = None
) -> PreparedFile | None:
    """The file's outcome when the warehouse holds it already (nothing to prepare), else None."""
    content_hash = content_hash or file_hash(delivery.path, delivery.zone)
    if not already_ingested(con, content_hash):
        return None
    report = FileReport(
        stored_name(delivery.path), content_hash, "already_ingested", zone=delivery.zone
    )
    return PreparedFile(delivery.path, report, done=True)


def _start(
    delivery: Delivery, con: duckdb.DuckDBPyConnection | None, settings: Settings
) -> PreparedFile:
    path = delivery.path
    content_hash = file_hash(path, delivery.zone)
    if con is not None and (skipped := skipped_if_ingested(delivery, con, content_hash)):
        return skipped
    report = FileReport(stored_name(path), content_hash, status="", zone=delivery.zone)
    prepared = PreparedFile(path, report)
    if delivery.zone is None:
        prepared.held = delivery.outside_zones()
    else:
        # Its own folder: the same content may be in flight twice (a re-sent file, another task).
        stage = tempfile.mkdtemp(prefix=f"{content_hash[:16]}-", dir=settings.staging_dir)
        prepared.stage = Path(stage)
    return prepared


@dataclass
class _StagedCounts:
    records: int
    quarantined: int
    misdelivered: int
    reasons: Counter


def _stage_chunk(chunk: _Chunk, failures: pl.DataFrame, master_key: bytes) -> _StagedCounts:
    """Write a validated chunk's events (anonymised) and quarantine rows to the file's stage.
    Touches only its own files, so chunks can be staged side by side; the caller adds the
    counts to the file's report."""
    prepared = chunk.prepared
    checked = with_zone_check(with_reasons(chunk.typed, failures), prepared.report.zone)
    is_valid = pl.col("reasons").list.len() == 0
    valid = checked.filter(is_valid).drop("reasons", "is_misdelivered")
    events = events_from_records(
        anonymised_records(valid, master_key).lazy(), prepared.report.file
    ).collect()
    # Uncompressed: read once by the committer, then deleted; zstd showed in the CPU profile.
    events.write_parquet(prepared.stage / f"events-{chunk.n:05d}.parquet", compression=STAGED)
    bad = quarantine_rows(checked.filter(~is_valid), prepared.report.zone)
    bad.write_parquet(prepared.stage / f"quarantine-{chunk.n:05d}.parquet", compression=STAGED)
    reasons = Counter(_reason_kind(r) for rs in bad["reasons"].to_list() for r in rs)
    return _StagedCounts(chunk.typed.height, bad.height, checked["is_misdelivered"].sum(), reasons)


def _add_counts(report: FileReport, counts: _StagedCounts) -> None:
    report.records += counts.records
    report.quarantined += counts.quarantined
    report.misdelivered += counts.misdelivered
    report.quarantine_reasons.update(counts.reasons)


def _checked_share(prepared: PreparedFile) -> PreparedFile:
    """Hold a file whose own records (those naming its zone's firm) are mostly invalid: it is
    more likely the wrong file. Records naming another firm stay quarantined whatever their
    share, so that the delivering firm sees each of them."""
    report = prepared.report
    own, bad = report.records - report.misdelivered, report.quarantined - report.misdelivered
    bad_share = bad / own if own else 0.0
    if prepared.held is None and bad_share > MAX_BAD_SHARE:
        prepared.discard()
        prepared.held = (
            f"{report.file}: {bad} of {own} records are invalid "
            f"(more than {MAX_BAD_SHARE:.0%}); the file looks wrong as a whole, so none of it "
            "was used. Most common problems: "
            + "; ".join(f"{k} ({v})" for k, v in report.quarantine_reasons.most_common(3))
        )
    return prepared


def commit_prepared(
    prepared: PreparedFile,
    *,
    store: EventStore,
    master_key: bytes,
    settings: Settings,
    checkpoint: bool = True,
) -> FileReport:
    """Append a prepared file in one transaction (or record why it was held); always removes
    its staged Parquet. With checkpoint=False the caller checkpoints (folds erasures' tombstones
    into the database file) before it returns. The erasures' rewrites of earlier raw files are
    the caller's too (``redact_pending``, once per run: a file named by several erasures is
    rewritten once)."""
    path, report = prepared.path, prepared.report
    try:
        if report.status == "already_ingested":
            return report
        if already_ingested(store.con, report.content_hash):  # its twin committed meanwhile
            return FileReport(report.file, report.content_hash, "already_ingested")
        report.status = "ingested"
        try:
            if prepared.held is not None:
                raise FileUnusable(prepared.held)
            _commit_file(store, prepared, master_key)
            if report.erased_skipped and path.resolve().is_relative_to(
                settings.landing_dir.resolve()
            ):
                # Our raw archive must not keep them either.
                redact_file(store, path, master_key, zone=report.zone)
            if report.erasures:
                if checkpoint:
                    store.con.execute("CHECKPOINT")  # fold the tombstones into the file now
                remove_as_of_builds(settings)
        except FileUnusable as exc:
            report.status, report.reason = "held", str(exc).replace(path.name, report.file)
            _record_held(store, path, report.content_hash, report)
    finally:
        prepared.discard()
    return report


def ingest_file(
    path: Path,
    *,
    store: EventStore,
    master_key: bytes,
    validator: RecordValidator,
    settings: Settings,
    on_records: Callable[[int], None] | None = None,
) -> FileReport:
    """Ingest one file: prepare it, then commit it."""
    (delivery,) = landing_deliveries([path], settings)
    prepared = prepare_file(
        delivery,
        con=store.con,
        master_key=master_key,
        validator=validator,
        settings=settings,
        on_records=on_records,
    )
    report = commit_prepared(prepared, store=store, master_key=master_key, settings=settings)
    redact_pending(store, settings, master_key)
    return report


def _reason_kind(reason: str) -> str:
    """Group messages by rule (drop the echoed value) for summaries."""
    return reason.split(" (got ")[0]


def _commit_file(store: EventStore, prepared: PreparedFile, master_key: bytes) -> None:
    path, fmt, stage, report = prepared.path, prepared.fmt, prepared.stage, prepared.report
    content_hash = report.content_hash
    events_glob = str(stage / "events-*.parquet")
    quarantine_glob = str(stage / "quarantine-*.parquet")
    has_records = any(stage.glob("events-*.parquet"))  # an empty file has no chunk at all
    with store.transaction() as con:
        result = AppendResult(0, 0, 0, None, None)
        if has_records:
            verify_key(con, master_key)
            clients = con.sql(
                "SELECT DISTINCT firm_id, client_key FROM read_parquet(?)", params=[events_glob]
            ).pl()
            con.register("_erased_found", erased_keys(con, master_key, clients).to_arrow())
            # A table, not the registered frame: the append stages the relation as a view.
            con.execute("CREATE OR REPLACE TEMP TABLE _erased_clients AS FROM _erased_found")
            con.unregister("_erased_found")
            try:
                incoming = con.sql(
                    "SELECT *, row_number() OVER (ORDER BY source_line) AS batch_order "
                    "FROM read_parquet(?) i ANTI JOIN _erased_clients USING (firm_id, client_key)",
                    params=[events_glob],
                )
                report.erased_skipped = first_row(
                    con,
                    "SELECT count(*) FROM read_parquet(?) SEMI JOIN _erased_clients "
                    "USING (firm_id, client_key)",
                    [events_glob],
                )[0]
                result = store.append_in(con, incoming)
            finally:
                con.execute("DROP TABLE IF EXISTS _erased_clients")
            _failpoint("mid_append")
            if result.appended:
                erased = erase_in(
                    con,
                    master_key,
                    erasures_appended(con, result.first_position, result.last_position),
                )
                report.erasures = erased.clients
            con.execute(
                "INSERT INTO ingest.quarantine "
                "SELECT ?, ?, source_line, firm_id, record_id, record_type, reasons, now() "
                "FROM read_parquet(?)",
                [content_hash, stored_name(path), quarantine_glob],
            )
        report.events_appended = result.appended
        report.duplicates = result.duplicates
        report.conflicts = result.conflicts
        _upsert_manifest(
            con, path, fmt, content_hash, report, result.first_position, result.last_position
        )


def _record_held(store: EventStore, path: Path, content_hash: str, report: FileReport) -> None:
    fmt = path.suffix.lstrip(".").lower() or None
    with store.transaction() as con:
        _upsert_manifest(con, path, fmt, content_hash, report, None, None)


def _upsert_manifest(con, path, fmt, content_hash, report, first, last) -> None:
    con.execute(
        "INSERT OR REPLACE INTO ingest.files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
        [
            content_hash,
            stored_name(path),
            fmt,
            path.stat().st_size,
            report.status,
            report.reason,
            report.records,
            report.events_appended,
            report.duplicates,
            report.conflicts,
            report.quarantined,
            first,
            last,
        ],
    )


@dataclass
class IngestSummary:
    reports: list[FileReport]

    @property
    def held(self) -> list[FileReport]:
        return [r for r in self.reports if r.status == "held"]

    def totals(self) -> dict[str, int]:
        keys = ("records", "events_appended", "duplicates", "conflicts", "quarantined")
        out = {k: sum(getattr(r, k) for r in self.reports) for k in keys}
        out["files"] = len(self.reports)
        out["files_skipped"] = sum(r.status == "already_ingested" for r in self.reports)
        out["files_held"] = len(self.held)
        return out

    def quarantine_reasons(self) -> Counter:
        total: Counter = Counter()
        for r in self.reports:
            total.update(r.quarantine_reasons)
        return total


def ingest_paths(
    paths: Iterable[Path],
    settings: Settings,
    master_key: bytes,
    *,
    firm: str | None = None,
    on_file: Callable[[Path], None] | None = None,
    on_records: Callable[[int], None] | None = None,
    prepare: Preparer | None = None,
) -> IngestSummary:
    """Ingest files and folders into the warehouse, in name order, each file atomically.

    Files are prepared (parsed, validated by GX, anonymised) on a second thread while the one
    before is appended: validation is Python-bound and the append is DuckDB's, so the two share
    the machine's cores instead of taking turns. Commits stay in file order. `prepare` replaces
    the preparing thread (pipelines.ingest.parallel prepares on worker processes).
    """
    settings.ensure_dirs()
    validator = RecordValidator(settings.quality_dir)
    reports = []
    with EventStore(settings.warehouse_path) as store:
        store.con.execute("SET memory_limit = ?", [settings.ingest_memory_limit])
        # Each file's commit is durable in the write-ahead log; folding the log into the
        # database file (a checkpoint, which rewrites the event log's indexes whole) once per
        # run instead of at every 16 MB of log was a quarter of a large ingest.
        store.con.execute("SET checkpoint_threshold = '1GB'")
        reader = store.con.cursor()  # the preparing thread's own connection
        prepared_files = (prepare or prepared_in_thread)(
            landing_deliveries(paths, settings, firm),
            con=reader,
            master_key=master_key,
            validator=validator,
            settings=settings,
            on_records=on_records,
        )
        try:
            for prepared in prepared_files:
                if on_file:
                    on_file(prepared.path)
                report = commit_prepared(
                    prepared,
                    store=store,
                    master_key=master_key,
                    settings=settings,
                    checkpoint=False,
                )
                reports.append(report)
            # The raw files the run's erasures name, and any an earlier crash left pending.
            redact_pending(store, settings, master_key)
        finally:
            prepared_files.close()  # stops the preparing thread, discards what it staged
            reader.close()
            store.con.execute("CHECKPOINT")  # also folds in any erasure's tombstones
    validator.build_docs()
    return IngestSummary(reports)


# (deliveries, *, con, master_key, validator, settings, on_records) -> prepared files in order
Preparer = Callable[..., Iterator[PreparedFile]]


def prepared_in_thread(deliveries: list[Delivery], **kwargs: Any) -> Iterator[PreparedFile]:
    """`prepare_files` on a thread of its own (the default Preparer)."""
    return _in_background(prepare_files(deliveries, **kwargs))


_END = object()


PREPARED_AHEAD = 8  # files staged but not yet appended: Parquet on disk, not memory


def _in_background(prepared_files: Iterator[PreparedFile]) -> Iterator[PreparedFile]:
    """Run the preparing generator on its own thread, up to PREPARED_AHEAD files ahead of the
    consumer (a shared GX run finishes several files at once).

    Its errors reach the consumer after the files handed over before them (which are
    committed; files sharing the failed GX run are not); if the consumer stops early, files
    prepared for nothing are discarded.
    """
    handoff: queue.Queue = queue.Queue(maxsize=PREPARED_AHEAD)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for prepared in prepared_files:
                if not put(prepared):
                    prepared.discard()
                    return
            put(_END)
        except BaseException as exc:  # handed over, raised in the consumer
            put(exc)
        finally:
            prepared_files.close()

    thread = threading.Thread(target=produce, name="ingest-prepare", daemon=True)
    thread.start()
    try:
        while (item := handoff.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
        while not handoff.empty():
            item = handoff.get_nowait()
            if isinstance(item, PreparedFile):
                item.discard()
