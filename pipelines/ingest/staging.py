"""Ingest split for a cluster: any worker prepares a landing file (parse, validate, anonymise,
scrub; Parquet staged under SEALDEAL_HOME/staging, which every worker must share), and the
single writer commits the staged files in file order. Preparing never opens DuckDB.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import duckdb

from pipelines.core.settings import Settings
from pipelines.ingest.load import (
    FileReport,
    PreparedFile,
    commit_prepared,
    landing_deliveries,
    prepare_file,
)
from pipelines.ingest.validate import RecordValidator
from pipelines.landing.files import Delivery, file_hash
from pipelines.privacy.anonymise import stored_name
from pipelines.privacy.erasure import redact_pending
from warehouse.store import EventStore, first_row

PREPARED_MANIFEST = "prepared.json"
STALE_STAGE_SECONDS = 3600  # staged files older than this belong to no running ingest


def staged_dir(settings: Settings, path: Path) -> Path:
    """Where a landing file waits, prepared, for its commit: one folder per landing path, so that
    a retried preparation replaces the earlier attempt's."""
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    return settings.staging_dir / "prepared" / key


def stage_for_commit(
    delivery: Delivery, *, master_key: bytes, validator: RecordValidator, settings: Settings
) -> PreparedFile:
    """Prepare one landing file and leave it staged for commit_staged, which may run in another
    process or on another machine sharing SEALDEAL_HOME. Opens no DuckDB.

    The folder appears whole or not at all (renamed into place with its report), so a commit
    never reads a half-prepared file, whatever happens to this process.
    """
    prepared = prepare_file(
        delivery, con=None, master_key=master_key, validator=validator, settings=settings
    )
    folder = prepared.stage or Path(tempfile.mkdtemp(prefix="held-", dir=settings.staging_dir))
    report = {
        **asdict(prepared.report),
        "quarantine_reasons": dict(prepared.report.quarantine_reasons),
    }
    manifest = {
        "path": str(prepared.path),
        "fmt": prepared.fmt,
        "held": prepared.held,
        "report": report,
    }
    (folder / PREPARED_MANIFEST).write_text(json.dumps(manifest))
    target = staged_dir(settings, prepared.path)
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(folder, target)
    prepared.stage = target
    return prepared


def staged_file(settings: Settings, path: Path) -> PreparedFile | None:
    """The prepared file stage_for_commit left for `path`, or None."""
    folder = staged_dir(settings, path)
    manifest = folder / PREPARED_MANIFEST
    if not manifest.exists():
        return None
    data = json.loads(manifest.read_text())
    report = FileReport(**data["report"])
    report.quarantine_reasons = Counter(report.quarantine_reasons)
    return PreparedFile(Path(data["path"]), report, data["fmt"], folder, data["held"], done=True)


def commit_staged(
    paths: list[Path], *, master_key: bytes, settings: Settings
) -> tuple[list[FileReport], list[Path]]:
    """Commit prepared files in file order, each in its own transaction; returns the reports and
    the files left waiting.

    Idempotent: a file committed by an earlier attempt is reported as it was recorded. The first
    file found unprepared stops the commit (it and those after it wait for the next run), so that
    the event log keeps arrival order.
    """
    reports: list[FileReport] = []
    waiting: list[Path] = []
    with EventStore(settings.warehouse_path) as store:
        store.con.execute("SET memory_limit = ?", [settings.ingest_memory_limit])
        try:
            for i, path in enumerate(paths):
                prepared = staged_file(settings, path)
                report = (
                    commit_prepared(
                        prepared,
                        store=store,
                        master_key=master_key,
                        settings=settings,
                        checkpoint=False,
                    )
                    if prepared is not None
                    else _recorded(store.con, path, settings)
                )
                if report is None:
                    waiting = paths[i:]
                    break
                reports.append(report)
            # The raw files the run's erasures name, and any an earlier crash left pending.
            redact_pending(store, settings, master_key)
        finally:
            store.con.execute("CHECKPOINT")  # also folds in any erasure's tombstones
    return reports, waiting


def _recorded(con: duckdb.DuckDBPyConnection, path: Path, settings: Settings) -> FileReport | None:
    """The manifest's entry for a file an earlier attempt committed (its stage is gone)."""
    (delivery,) = landing_deliveries([path], settings)
    content_hash = file_hash(path, delivery.zone)
    row = first_row(
        con, "SELECT status, reason FROM ingest.files WHERE content_hash = ?", [content_hash]
    )
    if row is None:
        return None
    status = "already_ingested" if row[0] == "ingested" else row[0]
    return FileReport(stored_name(path), content_hash, status, reason=row[1])


def sweep_staging(settings: Settings, older_than: float = STALE_STAGE_SECONDS) -> int:
    """Remove staged folders no running ingest can own (a killed worker's half-prepared file, a
    file that never got committed); returns how many."""
    cutoff = time.time() - older_than
    stale = [
        p
        for folder in (settings.staging_dir, settings.staging_dir / "prepared")
        if folder.is_dir()
        for p in folder.iterdir()
        if p.is_dir() and p.name != "prepared" and p.stat().st_mtime < cutoff
    ]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return len(stale)
