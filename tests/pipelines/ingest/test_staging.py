"""Story tests of the cluster's ingest: any worker prepares a file (never opening DuckDB), the
single writer commits staged files in file order; firm zones decide whose records a file may
carry."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import duckdb
import pytest

from pipelines.app import tasks
from pipelines.ingest.load import FAILPOINT_ENV, FileHeld
from pipelines.ingest.staging import staged_dir, sweep_staging
from tests.samples import DEBRIEF, ERASURE, debrief, write_jsonl
from tests.samples import warehouse_rows as rows


def in_zone(settings, firm, name, records):
    return write_jsonl(settings.landing_dir / firm / name, records)


def of(firm, record):
    return {**record, "firm_id": firm}


def run(settings, paths=None):
    """The DAG's steps in order: find, prepare each, commit."""
    paths = tasks.new_landing_files(settings) if paths is None else paths
    for p in paths:
        tasks.prepare_landing_file(p, settings)
    return tasks.commit_landing_files(paths, settings)


def events_by_firm(settings):
    return dict(
        rows(settings, "SELECT firm_id, count(*) FROM eventstore.events GROUP BY ALL ORDER BY 1")
    )


def test_each_firm_writes_only_through_its_own_zone(settings):
    in_zone(settings, "firm-a", "2026-03-01_a.jsonl", [of("firm-a", debrief(i)) for i in (1, 2)])
    in_zone(settings, "firm-b", "2026-03-02_b.jsonl", [of("firm-b", debrief(i)) for i in (3, 4)])
    # firm-a's zone receives a file of firm-b's records (one of them an erasure of a firm-b
    # client) and one mixed file.
    in_zone(
        settings,
        "firm-a",
        "2026-03-03_wrong.jsonl",
        [
            of("firm-b", debrief(5)),
            of("firm-b", {**ERASURE, "client_ref": debrief(3)["client_ref"]}),
        ],
    )
    in_zone(
        settings,
        "firm-a",
        "2026-03-04_mixed.jsonl",
        [of("firm-a", debrief(6)), of("firm-b", debrief(7))],
    )
    result = run(settings)
    assert result["waiting"] == []
    by_file = {f["file"]: f for f in result["files"]}
    assert by_file["2026-03-03_wrong.jsonl"]["status"] == "ingested"
    assert by_file["2026-03-03_wrong.jsonl"]["events_appended"] == 0
    assert by_file["2026-03-03_wrong.jsonl"]["misdelivered"] == 2
    assert by_file["2026-03-04_mixed.jsonl"]["events_appended"] == 1
    assert events_by_firm(settings) == {"firm-a": 3, "firm-b": 2}
    assert rows(settings, "SELECT count(*) FROM eventstore.erasures")[0][0] == 0
    quarantined = rows(
        settings,
        "SELECT source_file, source_line, firm_id, record_id, reasons[1] FROM ingest.quarantine "
        "ORDER BY ALL",
    )
    why = "record names firm firm-b but was delivered in firm firm-a's zone"
    assert quarantined == [
        ("2026-03-03_wrong.jsonl", 1, "firm-a", "d-5", why),
        ("2026-03-03_wrong.jsonl", 2, "firm-a", "e-1", why),
        ("2026-03-04_mixed.jsonl", 2, "firm-a", "d-7", why),
    ]
    assert tasks.all_files_ingested(result) == 5


def test_a_file_outside_every_zone_is_held_and_taken_in_once_moved(settings):
    loose = write_jsonl(settings.landing_dir / "2026-03-01_loose.jsonl", [DEBRIEF])
    result = run(settings)
    (held,) = result["files"]
    assert held["status"] == "held"
    assert "outside any firm's landing zone" in held["reason"]
    assert rows(settings, "SELECT status FROM ingest.files") == [("held",)]
    assert rows(settings, "SELECT count(*) FROM eventstore.events")[0][0] == 0
    with pytest.raises(FileHeld, match="outside any firm's landing zone"):
        tasks.all_files_ingested(result)
    moved = settings.landing_dir / "north-star" / loose.name
    moved.parent.mkdir()
    loose.rename(moved)
    assert run(settings)["files"][0]["status"] == "ingested"
    assert events_by_firm(settings) == {"north-star": 1}


def test_single_firm_keeps_the_simple_layout(settings, monkeypatch):
    monkeypatch.setenv("SEALDEAL_SINGLE_FIRM", "north-star")
    write_jsonl(settings.landing_dir / "a.jsonl", [DEBRIEF, of("other-firm", debrief(2))])
    result = run(settings)
    assert result["files"][0]["events_appended"] == 1
    assert rows(settings, "SELECT firm_id, reasons[1] FROM ingest.quarantine") == [
        ("north-star", "record names firm other-firm but was delivered in firm north-star's zone")
    ]


def test_preparing_never_opens_the_warehouse(settings):
    path = in_zone(settings, "north-star", "a.jsonl", [DEBRIEF, debrief(2)])
    # Another process writes the warehouse meanwhile: DuckDB's file lock would stop any opener.
    writer = duckdb.connect(str(settings.warehouse_path))
    try:
        code = (
            "from pipelines.app.tasks import prepare_landing_file as p; import sys; "
            f"print(p({str(path)!r})['records'])"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    finally:
        writer.close()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"
    assert (staged_dir(settings, path) / "prepared.json").exists()


def test_commit_keeps_file_order_and_waits_for_an_unprepared_file(settings):
    paths = [
        str(in_zone(settings, "north-star", f"2026-03-0{i}.jsonl", [debrief(i)])) for i in (1, 2, 3)
    ]
    tasks.prepare_landing_file(paths[0], settings)
    tasks.prepare_landing_file(paths[2], settings)  # the second one's worker failed
    result = tasks.commit_landing_files(paths, settings)
    assert [f["file"] for f in result["files"]] == ["2026-03-01.jsonl"]
    assert result["waiting"] == ["2026-03-02.jsonl", "2026-03-03.jsonl"]
    with pytest.raises(FileHeld, match="2 file\\(s\\) not prepared"):
        tasks.all_files_ingested(result)
    again = run(settings)  # the next run finds the two and commits them in order
    assert [f["file"] for f in again["files"]] == ["2026-03-02.jsonl", "2026-03-03.jsonl"]
    assert rows(settings, "SELECT source_file FROM eventstore.events ORDER BY position") == [
        ("2026-03-01.jsonl",),
        ("2026-03-02.jsonl",),
        ("2026-03-03.jsonl",),
    ]


def test_a_commit_killed_mid_file_is_redone_exactly_once(settings):
    paths = [
        str(in_zone(settings, "north-star", f"2026-03-0{i}.jsonl", [debrief(i), debrief(i + 10)]))
        for i in (1, 2)
    ]
    for p in paths:
        tasks.prepare_landing_file(p, settings)
    code = f"from pipelines.app.tasks import commit_landing_files as c; c({paths!r})"
    env = {**os.environ, FAILPOINT_ENV: "mid_append"}
    killed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    assert killed.returncode == -9  # SIGKILL inside the first file's transaction
    assert rows(settings, "SELECT count(*) FROM eventstore.events")[0][0] == 0
    retried = tasks.commit_landing_files(paths, settings)  # Airflow's retry: same staged files
    assert [f["events_appended"] for f in retried["files"]] == [2, 2]
    once_more = tasks.commit_landing_files(paths, settings)  # and a retry after success
    assert [f["status"] for f in once_more["files"]] == ["already_ingested"] * 2
    assert rows(settings, "SELECT count(*), count(DISTINCT record_id) FROM eventstore.events") == [
        (4, 4)
    ]
    assert not any((settings.staging_dir / "prepared").iterdir())


def test_a_retried_preparation_replaces_the_first_and_stale_stages_are_swept(settings):
    path = str(in_zone(settings, "north-star", "a.jsonl", [DEBRIEF]))
    tasks.prepare_landing_file(path, settings)
    tasks.prepare_landing_file(path, settings)
    assert len(list((settings.staging_dir / "prepared").iterdir())) == 1
    orphan = settings.staging_dir / "0123456789abcdef-killed"  # a killed worker's half file
    orphan.mkdir()
    assert sweep_staging(settings) == 0  # young: could belong to a running ingest
    old = time.time() - 7200
    for p in (orphan, staged_dir(settings, settings.landing_dir / "north-star" / "a.jsonl")):
        os.utime(p, (old, old))
    assert sweep_staging(settings) == 2
    assert not orphan.exists()


def test_a_file_named_outside_the_landing_folder_needs_its_firm(settings, master_key, tmp_path):
    from pipelines.ingest.load import ingest_paths

    path = write_jsonl(tmp_path / "export.jsonl", [DEBRIEF, of("other-firm", debrief(2))])
    assert ingest_paths([path], settings, master_key).totals()["files_held"] == 1
    totals = ingest_paths([path], settings, master_key, firm="north-star").totals()
    assert (totals["events_appended"], totals["quarantined"]) == (1, 1)


def test_a_copy_of_another_firms_file_does_not_make_the_real_one_look_delivered(settings):
    real = in_zone(settings, "firm-b", "2026-03-01_b.jsonl", [of("firm-b", debrief(1))])
    copy = settings.landing_dir / "firm-a" / real.name  # same bytes, committed first
    copy.parent.mkdir()
    copy.write_bytes(real.read_bytes())
    result = run(settings)
    assert [(f["zone"], f["events_appended"], f["misdelivered"]) for f in result["files"]] == [
        ("firm-a", 0, 1),
        ("firm-b", 1, 0),
    ]
    assert events_by_firm(settings) == {"firm-b": 1}
    assert run(settings)["files"] == []  # and neither is taken in twice
