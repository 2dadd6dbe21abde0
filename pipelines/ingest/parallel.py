"""Preparing landing files on several processes while the one writer commits them in order.

Preparing (parse, type, validate, pseudonymise, scrub, stage as Parquet) is independent per file
and mostly Python-bound: threads share one interpreter lock, processes do not. Consecutive files
are grouped (a group shares GX audits, as in one `prepare_files` call) and the groups go to a
pool of worker processes; the files come back in file order, so commits keep arrival order as
the single-process path does, and each file is still committed alone, atomically. Workers never
open DuckDB: the parent asks the warehouse which files are already in before sending any out.

A worker's start (imports, GX context) costs a few seconds, and on a 2-core machine the workers
take CPU from the committer, which is the critical path: small ingests and small machines stay
on one process (`preparing_processes`). Memory: each worker holds one group's records at a time.
Workers are spawned, so, as for any multiprocessing program, the host's __main__ must be safe to
import again (sealdeal's CLI and the bench's phases are).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipelines.core.memory import own_peak_rss
from pipelines.core.settings import Settings
from pipelines.ingest.load import (
    IngestSummary,
    PreparedFile,
    ingest_paths,
    prepare_files,
    prepared_in_thread,
    skipped_if_ingested,
)
from pipelines.landing.files import Delivery

WORKERS_ENV = "SEALDEAL_INGEST_WORKERS"
# Below this much landing data a worker's start-up costs more than it saves.
MIN_PARALLEL_BYTES = 64 * 1024**2
MIN_CORES = 4
# Landing bytes per group: ~100k records, about one GX audit's worth.
GROUP_BYTES = 48 * 1024**2


@dataclass
class PreparedGroup:
    files: list[PreparedFile]
    worker_pid: int
    worker_peak_rss_bytes: int | None


def ingest_in_processes(
    paths: Iterable[Path],
    settings: Settings,
    master_key: bytes,
    *,
    firm: str | None = None,
    workers: int | None = None,
    peaks: dict[int, int] | None = None,
    group_bytes: int = GROUP_BYTES,
    **kwargs: Any,
) -> IngestSummary:
    """`ingest_paths`, its files prepared by worker processes when there is enough to prepare.
    `peaks` collects each worker's peak resident memory (pid -> bytes)."""

    def prepare(deliveries: list[Delivery], **prep: Any) -> Iterator[PreparedFile]:
        # Decided on the deliveries ingest_paths lists, so the landing folders are walked once.
        n = preparing_processes(deliveries) if workers is None else workers
        if n <= 0:
            return prepared_in_thread(deliveries, **prep)
        return prepared_in_processes(
            deliveries, workers=n, peaks=peaks, group_bytes=group_bytes, **prep
        )

    return ingest_paths(paths, settings, master_key, firm=firm, prepare=prepare, **kwargs)


def preparing_processes(deliveries: list[Delivery]) -> int:
    """Worker processes to prepare these files on, 0 for the ingesting process's own preparing
    thread: SEALDEAL_INGEST_WORKERS if set; else 0 for small ingests and on machines of fewer
    than MIN_CORES cores, and one per core but the committer's otherwise.

    Why not on 2 cores: at 1M interviews the committer is the critical path (appending is
    about 60% of the ingest), and workers took CPU from it: 159 s with two workers, 121 s with
    the thread (README, Performance)."""
    wanted = os.environ.get(WORKERS_ENV)
    if wanted:
        return max(0, int(wanted))
    cores = len(os.sched_getaffinity(0))
    if cores < MIN_CORES or sum(_size(d) for d in deliveries) < MIN_PARALLEL_BYTES:
        return 0
    return min(cores - 1, len(deliveries))


def file_groups(deliveries: list[Delivery], group_bytes: int = GROUP_BYTES) -> list[list[Delivery]]:
    """Consecutive files, a new group begun once one holds group_bytes."""
    groups: list[list[Delivery]] = []
    size = group_bytes
    for delivery in deliveries:
        if size >= group_bytes:
            groups.append([])
            size = 0
        groups[-1].append(delivery)
        size += _size(delivery)
    return groups


def prepared_in_processes(
    deliveries: list[Delivery],
    *,
    con: duckdb.DuckDBPyConnection,
    master_key: bytes,
    settings: Settings,
    workers: int,
    on_records: Callable[[int], None] | None = None,
    peaks: dict[int, int] | None = None,
    group_bytes: int = GROUP_BYTES,
    **_: Any,
) -> Iterator[PreparedFile]:
    """A Preparer (see pipelines.ingest.load): files prepared on `workers` processes, yielded in
    order. A worker's error reaches the caller after the files of the groups before it's; what
    was prepared and never handed over is discarded."""
    groups = file_groups(deliveries, group_bytes)
    known: list[dict[int, PreparedFile]] = []  # per group: its files already in, by delivery

    def tasks() -> Iterator[tuple]:
        # Lazily, as groups are sent out: hashing every file first would delay the workers.
        for group in groups:
            known.append({id(d): s for d in group if (s := skipped_if_ingested(d, con))})
            todo = [d for d in group if id(d) not in known[-1]]
            yield todo, settings.home, master_key

    results = ordered_map(_prepare_group, tasks(), workers=workers, unused=_discard_group)
    try:
        for i, result in enumerate(results):
            group, skipped = groups[i], known[i]
            if peaks is not None and result.worker_peak_rss_bytes:
                pid = result.worker_pid
                peaks[pid] = max(peaks.get(pid, 0), result.worker_peak_rss_bytes)
            prepared = iter(result.files)
            try:
                for delivery in group:
                    file = skipped.get(id(delivery)) or next(prepared)
                    if on_records:
                        on_records(file.report.records)
                    yield file
            finally:
                for unused in prepared:
                    unused.discard()
    finally:
        results.close()


def ordered_map(
    fn: Callable[..., Any],
    args: Iterable[tuple],
    *,
    workers: int,
    unused: Callable[[Any], None],
) -> Iterator[Any]:
    """fn(*a) for each a on `workers` spawned processes, at most workers + 1 tasks ahead, the
    results in order. A result that is never handed over (the caller stopped, or a task before
    it failed) is passed to `unused`."""
    context = multiprocessing.get_context("spawn")  # never fork a process that runs threads
    futures: deque[Future] = deque()
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        try:
            for a in args:
                futures.append(pool.submit(fn, *a))
                if len(futures) > workers:
                    yield futures.popleft().result()
            while futures:
                yield futures.popleft().result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for future in futures:
                if not future.cancelled() and future.exception() is None:
                    unused(future.result())


def _prepare_group(deliveries: list[Delivery], home: Path, master_key: bytes) -> PreparedGroup:
    """In a worker: prepare a group of files into staging (never opening DuckDB)."""
    from pipelines.ingest.validate import RecordValidator

    settings = Settings(home=home)
    validator = RecordValidator(settings.quality_dir)
    files = list(
        prepare_files(
            deliveries, con=None, master_key=master_key, validator=validator, settings=settings
        )
    )
    return PreparedGroup(files, os.getpid(), own_peak_rss())


def _discard_group(group: PreparedGroup) -> None:
    for prepared in group.files:
        prepared.discard()


def _size(delivery: Delivery) -> int:
    return delivery.path.stat().st_size if delivery.path.is_file() else 0
