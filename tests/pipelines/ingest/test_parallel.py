"""Preparing on worker processes: the warehouse ends up exactly as with the one preparing thread
(same events, pseudonyms, quarantine, conflicts, manifest), commits in file order, and nothing
staged is left behind when the consumer stops early."""

from __future__ import annotations

import shutil
import sys
import types

import duckdb
import pytest

from pipelines.ingest import parallel
from pipelines.ingest.load import ingest_paths, landing_deliveries
from pipelines.ingest.parallel import file_groups, ingest_in_processes, prepared_in_processes
from pipelines.synthetic.generate import generate
from tests.samples import ERASURE, debrief, write_jsonl, zone
from tests.samples import warehouse_rows as rows
from warehouse.store import apply_schema

TABLES = {
    # A tombstone's time is its erasure's.
    "events": "SELECT * EXCLUDE (recorded_at, occurred_at), "
    "if(stream_id LIKE 'erased-%', NULL, occurred_at) FROM eventstore.events ORDER BY position",
    "quarantine": "SELECT * EXCLUDE (quarantined_at) FROM ingest.quarantine ORDER BY ALL",
    "files": "SELECT * EXCLUDE (processed_at) FROM ingest.files ORDER BY ALL",
    "conflicts": "SELECT * EXCLUDE (detected_at) FROM eventstore.conflicts ORDER BY ALL",
    "erasures": "SELECT firm_id, erased_token, events_erased FROM eventstore.erasures ORDER BY ALL",
}


@pytest.fixture(autouse=True)
def plain_main(monkeypatch):
    """Spawned workers re-run the parent's __main__ script; a test that ran a Streamlit app before
    leaves the app as __main__ (sealdeal's own entry points are modules, run with -m)."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))


def landing(settings) -> None:
    """Generated files of three firms, plus a file with bad records, a re-sent record with other
    content (a conflict) and a record naming another firm (misdelivered)."""
    generate(settings.landing_dir, interviews=1_500, seed=11)
    write_jsonl(
        zone(settings) / "9999-12-31_extra.jsonl",
        [
            debrief(1),
            debrief(2, stage="lunch"),
            "{broken",
            debrief(1, stage="panel"),
            debrief(3, firm_id="other-firm"),
            debrief(4),
            debrief(5),
            ERASURE,
        ],
    )


def outcomes(summary) -> list[tuple]:
    return [
        (r.file, r.status, r.records, r.events_appended, r.quarantined) for r in summary.reports
    ]


def snapshot(settings) -> dict[str, list]:
    return {name: rows(settings, sql) for name, sql in TABLES.items()}


def test_processes_give_the_same_warehouse_as_one_thread(settings, master_key, tmp_path):
    landing(settings)
    files = landing_deliveries([settings.landing_dir], settings)
    assert len(file_groups(files, group_bytes=200_000)) >= 4  # several tasks per worker
    as_delivered = tmp_path / "as-delivered"  # the erasure redacts the raw files it names
    shutil.copytree(settings.landing_dir, as_delivered)
    one_thread = ingest_paths([settings.landing_dir], settings, master_key)
    expected = snapshot(settings)
    assert {k: bool(v) for k, v in expected.items()} == dict.fromkeys(TABLES, True)

    settings.warehouse_path.unlink()
    shutil.rmtree(settings.quality_dir)
    shutil.rmtree(settings.landing_dir)
    shutil.copytree(as_delivered, settings.landing_dir)
    peaks: dict[int, int] = {}
    summary = ingest_in_processes(
        [settings.landing_dir], settings, master_key, workers=2, peaks=peaks, group_bytes=200_000
    )
    assert snapshot(settings) == expected
    assert outcomes(summary) == outcomes(one_thread)
    # Each worker's peak (one may have taken every group on a busy machine).
    assert 1 <= len(peaks) <= 2 and all(p > 50 * 1024**2 for p in peaks.values())
    assert not any(settings.staging_dir.iterdir())

    again = ingest_in_processes(
        [settings.landing_dir], settings, master_key, workers=2, group_bytes=200_000
    )
    assert {r.status for r in again.reports} == {"already_ingested"}
    assert [r.file for r in again.reports] == [r.file for r in summary.reports]
    assert snapshot(settings) == expected


def test_a_consumer_that_stops_early_leaves_nothing_staged(settings, master_key):
    landing(settings)
    files = landing_deliveries([settings.landing_dir], settings)
    con = duckdb.connect(str(settings.warehouse_path))
    apply_schema(con)
    prepared = prepared_in_processes(
        files, con=con, master_key=master_key, settings=settings, workers=2, group_bytes=200_000
    )
    first = next(prepared)
    assert first.stage is not None and first.stage.exists()
    prepared.close()
    first.discard()
    con.close()
    assert not any(settings.staging_dir.iterdir())


def test_worker_count_by_machine_and_size(settings, monkeypatch):
    big = zone(settings) / "big.jsonl"
    big.parent.mkdir(parents=True, exist_ok=True)
    with big.open("wb") as fh:
        fh.truncate(parallel.MIN_PARALLEL_BYTES)  # sparse: its size is all that is read
    small = write_jsonl(zone(settings) / "small.jsonl", [debrief(1)])
    files = landing_deliveries([big, small], settings)
    monkeypatch.delenv(parallel.WORKERS_ENV, raising=False)
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda _: set(range(8)))
    assert parallel.preparing_processes(files) == 2  # one per file, at most cores - 1
    assert parallel.preparing_processes(files[1:]) == 0  # too little to prepare
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda _: {0, 1})
    assert parallel.preparing_processes(files) == 0  # 2 cores: the committer needs one
    monkeypatch.setenv(parallel.WORKERS_ENV, "3")
    assert parallel.preparing_processes(files) == 3
