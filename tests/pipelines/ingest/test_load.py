"""Story tests of ingestion without a scheduler: what a firm drops, what the warehouse keeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import duckdb
import polars as pl
import pytest

from pipelines.ingest import load
from pipelines.ingest.load import FAILPOINT_ENV, ingest_paths
from pipelines.ingest.validate import RecordValidator
from pipelines.privacy.anonymise import pseudonym
from tests.samples import (
    DEBRIEF,
    ERASURE,
    FIRM,
    OUTCOME,
    debrief,
    write_csv,
    write_jsonl,
    zone,
)
from tests.samples import warehouse_rows as rows


def count(settings, table):
    return rows(settings, f"SELECT count(*) FROM {table}")[0][0]


def test_good_records_go_through_bad_ones_are_quarantined_with_reasons(settings, master_key):
    path = write_jsonl(
        zone(settings) / "batch-1.jsonl",
        [
            DEBRIEF,
            OUTCOME,
            debrief(2, stage="lunch"),
            debrief(3, asked_fit_question=False),  # still has asked_at_pct etc.
            "{broken",
            debrief(4),
            ERASURE,
        ],
    )
    summary = ingest_paths([path], settings, master_key)
    totals = summary.totals()
    assert totals["records"] == 7
    assert totals["events_appended"] == 4
    assert totals["quarantined"] == 3
    types = rows(settings, "SELECT event_type FROM eventstore.events ORDER BY position")
    assert [t for (t,) in types] == [
        "DebriefSubmitted",
        "OutcomeRecorded",
        "DebriefSubmitted",
        "ErasureRequested",
    ]
    quarantined = rows(
        settings,
        "SELECT source_line, record_id, reasons FROM ingest.quarantine ORDER BY source_line",
    )
    assert [(line, rid) for line, rid, _ in quarantined] == [(3, "d-2"), (4, "d-3"), (5, None)]
    assert any("stage" in r and "lunch" in r for r in quarantined[0][2])
    assert any("asked_at_pct" in r for r in quarantined[1][2])
    assert quarantined[2][2] == ["line is not valid JSON"]
    # Each row names the firm whose zone delivered it, even the line that names no firm at all.
    assert rows(settings, "SELECT DISTINCT firm_id FROM ingest.quarantine") == [(FIRM,)]
    # Two manifest rows, one delivery: the file as it came, and as it is after the ERASURE in it
    # removed its client's lines from the raw archive (see test_erasure.py).
    assert rows(settings, "SELECT DISTINCT status, file_name FROM ingest.files") == [
        ("ingested", "batch-1.jsonl")
    ]
    assert DEBRIEF["client_ref"] not in path.read_text()
    assert len(path.read_text().splitlines()) == 7 - 3


def test_csv_file_is_ingested_like_jsonl(settings, master_key):
    path = write_csv(zone(settings) / "debriefs.csv", [DEBRIEF, debrief(2)], bom=True)
    summary = ingest_paths([path], settings, master_key)
    assert summary.totals()["events_appended"] == 2
    payload = json.loads(rows(settings, "SELECT payload FROM eventstore.events LIMIT 1")[0][0])
    assert payload["fit_question_kinds"] == ["concerns", "ideal_candidate"]
    assert payload["experience_band"] == "6-10"


def test_rerun_and_renamed_copy_add_nothing(settings, master_key):
    path = write_jsonl(zone(settings) / "a.jsonl", [DEBRIEF, OUTCOME, debrief(2, stage="x")])
    first = ingest_paths([path], settings, master_key).totals()
    copy = zone(settings) / "a-copy.jsonl"
    copy.write_bytes(path.read_bytes())
    again = ingest_paths([settings.landing_dir], settings, master_key).totals()
    assert first["events_appended"] == 2
    assert again["events_appended"] == 0 and again["files_skipped"] == 2
    assert count(settings, "eventstore.events") == 2
    assert count(settings, "ingest.quarantine") == 1


def test_same_record_in_another_file_is_not_duplicated(settings, master_key):
    ingest_paths([write_jsonl(zone(settings) / "a.jsonl", [DEBRIEF])], settings, master_key)
    b = write_jsonl(zone(settings) / "b.jsonl", [DEBRIEF, debrief(2)])
    totals = ingest_paths([b], settings, master_key).totals()
    assert (totals["events_appended"], totals["duplicates"]) == (1, 1)
    assert count(settings, "eventstore.events") == 2


def test_same_key_different_content_is_a_conflict_and_the_original_stays(settings, master_key):
    ingest_paths([write_jsonl(zone(settings) / "a.jsonl", [DEBRIEF])], settings, master_key)
    changed = dict(DEBRIEF, self_rating=5)
    b = write_jsonl(zone(settings) / "b.jsonl", [changed])
    totals = ingest_paths([b], settings, master_key).totals()
    assert (totals["events_appended"], totals["conflicts"]) == (0, 1)
    payload = json.loads(rows(settings, "SELECT payload FROM eventstore.events")[0][0])
    assert payload["self_rating"] == 3
    # The firm's record id is kept as its pseudonym (it may be an e-mail or a name).
    record_key = pseudonym(master_key, DEBRIEF["firm_id"], "record", DEBRIEF["record_id"])
    assert rows(settings, "SELECT record_id, source_file FROM eventstore.conflicts") == [
        (record_key, "b.jsonl")
    ]


def test_mostly_bad_file_is_held_whole(settings, master_key):
    path = write_jsonl(zone(settings) / "wrong.jsonl", [DEBRIEF, "{x", "{y", debrief(2, stage="?")])
    summary = ingest_paths([path], settings, master_key)
    (held,) = summary.held
    assert "3 of 4 records are invalid" in held.reason
    assert count(settings, "eventstore.events") == 0
    assert count(settings, "ingest.quarantine") == 0
    assert rows(settings, "SELECT status FROM ingest.files") == [("held",)]


def test_unreadable_file_is_held_and_others_still_go_through(settings, master_key):
    bad = zone(settings) / "a-latin1.csv"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(
        "record_type,record_id,firm_id,client_ref\ndebrief,1,x,J\xf6rg\n".encode("latin-1")
    )
    good = write_jsonl(zone(settings) / "b.jsonl", [DEBRIEF])
    summary = ingest_paths([settings.landing_dir], settings, master_key)
    assert [r.status for r in summary.reports] == ["held", "ingested"]
    assert "not UTF-8" in summary.held[0].reason
    assert count(settings, "eventstore.events") == 1
    assert good.exists() and bad.exists()  # landing files are never touched


def test_pseudonyms_are_keyed_per_firm_and_stable(settings, master_key):
    other_firm = dict(DEBRIEF, firm_id="blue-peak")
    write_jsonl(zone(settings) / "a.jsonl", [DEBRIEF, OUTCOME])
    write_jsonl(zone(settings, "blue-peak") / "a.jsonl", [other_firm])
    ingest_paths([settings.landing_dir], settings, master_key)
    assert count(settings, "ingest.quarantine") == 0
    keys = [k for (k,) in rows(settings, "SELECT client_key FROM eventstore.events ORDER BY 1")]
    expected = pseudonym(master_key, "north-star", "client", "jane.doe@example.com")
    assert keys.count(expected) == 2  # debrief and outcome of the same client link up
    assert len(set(keys)) == 2  # the same person at another firm is unlinkable


def text_cells(settings) -> list[str]:
    """Every text value in every table of the warehouse (lists flattened)."""
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        cols = con.execute(
            "SELECT table_schema, table_name, column_name, data_type "
            "FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON', 'VARCHAR[]')"
        ).fetchall()
        out: list[str] = []
        for schema, table, column, dtype in cols:
            expr = (
                f'array_to_string("{column}", chr(31))'
                if dtype.endswith("[]")
                else f'"{column}"::VARCHAR'
            )
            out += [
                v
                for (v,) in con.execute(f'SELECT {expr} FROM "{schema}"."{table}"').fetchall()
                if v
            ]
        return out
    finally:
        con.close()


def test_no_raw_identifier_reaches_any_table(settings, master_key):
    notes = "Met Priya Sharma, priya@corp.in, +44 20 7946 0958"
    records = [DEBRIEF, OUTCOME, ERASURE, debrief(2, notes=notes)]
    records.append(debrief(3, stage="jane.doe@example.com"))  # PII in a wrong field
    records.append(debrief(4, client_ref="CL-55501", notes="CL-55501 was nervous"))
    # Free-text labels and record ids are no place for a person either.
    records.append(
        debrief(5, record_id="anna.bell@example.com", industry="Priya Sharma +44 20 7946 0958")
    )
    ingest_paths([write_jsonl(zone(settings) / "a.jsonl", records)], settings, master_key)
    cells = "\n".join(text_cells(settings))
    assert count(settings, "eventstore.events") == 6
    for raw in [
        "anna.bell@example.com",
        "Sharma",
        "CL-55501",
        "jane.doe@example.com",
        "client2@example.org",
        "Client Number2",
        "tom@acme.io",
        "555-0132",
        "priya@corp.in",
        "7946 0958",
        "Priya",
        "int-77",
        DEBRIEF["notes"],
    ]:
        assert raw not in cells, raw
    assert "[EMAIL]" in cells and "[PHONE]" in cells


@pytest.mark.parametrize("failpoint", ["mid_append"])
def test_kill_mid_append_then_rerun_equals_a_clean_run(tmp_path, settings, master_key, failpoint):
    records = [debrief(i) for i in range(50)] + [
        dict(OUTCOME, record_id="o-9", interview_ref="int-9")
    ]
    landing = write_jsonl(zone(settings) / "a.jsonl", records)
    env = {**os.environ, FAILPOINT_ENV: failpoint}
    cmd = [sys.executable, "-m", "pipelines.app.cli", "ingest", "--no-progress", str(landing)]
    killed = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr  # died inside the transaction
    assert count(settings, "eventstore.events") == 0
    assert count(settings, "ingest.files") == 0

    env.pop(FAILPOINT_ENV)
    subprocess.run(cmd, env=env, check=True, capture_output=True)

    clean_home = tmp_path / "clean"  # the same delivery, to a home that never saw it
    clean_landing = write_jsonl(clean_home / "landing" / FIRM / "a.jsonl", records)
    subprocess.run(
        [*cmd[:-1], str(clean_landing)],
        env={**env, "SEALDEAL_HOME": str(clean_home)},
        check=True,
        capture_output=True,
    )
    query = (
        "SELECT position, stream_id, stream_version, event_type, record_id, payload "
        "FROM eventstore.events ORDER BY position"
    )
    recovered = rows(settings, query)
    clean_con = duckdb.connect(str(clean_home / "warehouse.duckdb"), read_only=True)
    clean = clean_con.execute(query).fetchall()
    clean_con.close()
    assert len(recovered) == 51
    assert recovered == clean


def test_folders_are_searched_for_landing_files_only(settings, master_key):
    write_jsonl(zone(settings) / "deep" / "A.JSONL", [DEBRIEF])
    write_csv(zone(settings) / "b.csv", [debrief(2)])
    (settings.landing_dir / "truth.json").write_text("{}")
    (zone(settings) / "README.txt").write_text("not a landing file")
    write_jsonl(zone(settings) / ".partial.jsonl", ["{half"])  # an upload in progress
    summary = ingest_paths([settings.landing_dir], settings, master_key)
    assert sorted(r.file for r in summary.reports) == ["A.JSONL", "b.csv"]
    assert summary.totals()["events_appended"] == 2


def test_empty_and_blank_files_are_recorded_with_nothing_to_append(settings, master_key):
    zone(settings).mkdir()
    (zone(settings) / "empty.jsonl").write_text("")
    (zone(settings) / "blank.jsonl").write_text("\n\n  \n")
    (zone(settings) / "header-only.csv").write_text("record_type,record_id,firm_id,client_ref\n")
    summary = ingest_paths([settings.landing_dir], settings, master_key)
    assert [r.status for r in summary.reports] == ["ingested"] * 3
    assert summary.totals()["records"] == 0
    assert rows(settings, "SELECT count(*) FROM ingest.files") == [(3,)]
    assert rows(settings, "SELECT count(*) FROM eventstore.events") == [(0,)]


def test_the_demo_messy_file_shows_quarantine_at_work(settings, master_key):
    from pipelines.synthetic.generate import write_messy_example

    path = write_messy_example(zone(settings, "demo-firm") / "messy.jsonl")
    totals = ingest_paths([path], settings, master_key).totals()
    assert (totals["records"], totals["events_appended"], totals["quarantined"]) == (13, 8, 5)
    reasons = " ".join(
        r for (rs,) in rows(settings, "SELECT reasons FROM ingest.quarantine") for r in rs
    )
    for field in ("stage", "asked_at_pct", "interview_date", "experience_years", "not valid JSON"):
        assert field in reasons


def test_unreadable_values_in_many_records_with_different_clients(settings, master_key):
    # Regression: quoting parse errors once failed when several records with client refs of
    # different lengths had unreadable values in the same chunk.
    records = [debrief(i, client_ref="x" * (i + 1), experience_years="nine") for i in range(5)]
    path = write_jsonl(zone(settings) / "a.jsonl", [*records, *[debrief(i) for i in range(5, 12)]])
    totals = ingest_paths([path], settings, master_key).totals()
    assert (totals["events_appended"], totals["quarantined"]) == (7, 5)


def test_a_file_named_after_a_person_is_stored_under_a_scrubbed_name(settings, master_key):
    named = write_jsonl(zone(settings) / "export for anna.bell@example.com.jsonl", [DEBRIEF])
    held = zone(settings) / "Jane Doe notes.jsonl"
    held.write_bytes(b"\xff\xfe not text\n")
    ingest_paths([named, held], settings, master_key)
    cells = "\n".join(text_cells(settings))
    assert "anna.bell" not in cells and "Jane Doe" not in cells
    names = rows(settings, "SELECT file_name, status FROM ingest.files ORDER BY file_name")
    assert names == [("[NAME] notes.jsonl", "held"), ("export for [EMAIL]", "ingested")]
    assert rows(settings, "SELECT DISTINCT source_file FROM eventstore.events") == [
        ("export for [EMAIL]",)
    ]


def test_small_files_share_one_gx_run_and_each_keeps_its_own_report(settings, master_key):
    write_jsonl(zone(settings) / "a.jsonl", [DEBRIEF, debrief(2, stage="lunch")])
    write_jsonl(zone(settings) / "b.jsonl", [debrief(3), "{x", "{y"])  # mostly bad
    write_jsonl(zone(settings) / "c.jsonl", [debrief(4, self_rating=9), OUTCOME])
    summary = ingest_paths([settings.landing_dir], settings, master_key)
    assert [(r.file, r.status, r.records, r.quarantined) for r in summary.reports] == [
        ("a.jsonl", "ingested", 2, 1),
        ("b.jsonl", "held", 3, 2),
        ("c.jsonl", "ingested", 2, 1),
    ]
    # Each file's quarantine rows carry its own line numbers, though GX saw one batch.
    assert rows(settings, "SELECT source_file, source_line FROM ingest.quarantine ORDER BY 1") == [
        ("a.jsonl", 2),
        ("c.jsonl", 1),
    ]
    assert count(settings, "eventstore.events") == 2
    (summary_file,) = (settings.quality_dir / "validation_summaries").glob("*.json")
    run = json.loads(summary_file.read_text())
    assert (run["batch_name"], run["rows"], run["rows_failed"]) == ("a.jsonl#0 +2 more", 7, 4)
    assert list(settings.staging_dir.iterdir()) == []


def test_the_same_content_twice_in_one_run_is_appended_once(settings, master_key):
    a = write_jsonl(zone(settings) / "a.jsonl", [DEBRIEF, OUTCOME])
    (zone(settings) / "b.jsonl").write_bytes(a.read_bytes())
    summary = ingest_paths([settings.landing_dir], settings, master_key)
    assert [r.status for r in summary.reports] == ["ingested", "already_ingested"]
    assert count(settings, "eventstore.events") == 2
    assert list(settings.staging_dir.iterdir()) == []


def test_an_error_while_preparing_stops_the_run_and_leaves_no_staged_files(
    settings, master_key, monkeypatch
):
    from pipelines.ingest import load as ingest

    write_jsonl(zone(settings) / "a.jsonl", [DEBRIEF])
    write_jsonl(zone(settings) / "b.jsonl", [debrief(2)])
    real = ingest.typed_records
    calls = []

    def failing_second(raw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real(raw)

    monkeypatch.setattr(ingest, "typed_records", failing_second)
    with pytest.raises(RuntimeError, match="disk on fire"):
        ingest_paths([settings.landing_dir], settings, master_key)
    assert list(settings.staging_dir.iterdir()) == []
    assert count(settings, "eventstore.events") == 0  # a and b shared a GX run: neither is in
    monkeypatch.setattr(ingest, "typed_records", real)
    totals = ingest_paths([settings.landing_dir], settings, master_key).totals()
    assert totals["events_appended"] == 2


def test_a_failing_commit_discards_the_files_prepared_after_it(settings, master_key, monkeypatch):
    from pipelines.ingest import load as ingest

    for i in range(4):
        write_jsonl(zone(settings) / f"{i}.jsonl", [debrief(i + 1)])
    real = ingest._commit_file

    def failing_second(store, prepared, key):
        if prepared.report.file == "1.jsonl":
            raise RuntimeError("lost the disk")
        return real(store, prepared, key)

    monkeypatch.setattr(ingest, "_commit_file", failing_second)
    with pytest.raises(RuntimeError, match="lost the disk"):
        ingest_paths([settings.landing_dir], settings, master_key)
    assert count(settings, "eventstore.events") == 1  # 0.jsonl, committed before the failure
    assert list(settings.staging_dir.iterdir()) == []


def test_a_validation_groups_chunks_are_staged_side_by_side_with_the_same_results(
    settings, master_key, monkeypatch
):
    # Four files, one validation group: their chunks are anonymised and staged two at a time
    # (a barrier of two fails the run unless two are staged at once), and every report and
    # staged row equals staging them one after the other.
    for i in range(4):
        write_jsonl(
            zone(settings) / f"f{i}.jsonl",
            [debrief(10 * i + j, notes=f"Met Priya Patel on day {j}") for j in range(1, 4)]
            + [debrief(10 * i + 9, stage="lunch"), debrief(10 * i + 8, self_rating=9)],
        )

    def prepared(threads: int) -> list[tuple]:
        monkeypatch.setattr(load, "STAGING_THREADS", threads)
        out = []
        for file in load.prepare_files(
            load.landing_deliveries([settings.landing_dir], settings),
            con=None,
            master_key=master_key,
            validator=RecordValidator(settings.quality_dir),
            settings=settings,
        ):
            report = file.report
            staged = [
                pl.read_parquet(f).drop("recorded_at", strict=False).rows()
                for f in sorted(file.stage.glob("*.parquet"))
            ]
            out.append((report.file, report.records, report.quarantined, report.misdelivered))
            out.append((dict(report.quarantine_reasons), *staged))
            file.discard()
        return out

    one_by_one = prepared(1)
    barrier = threading.Barrier(2, timeout=60)
    stage = load._stage_chunk

    def side_by_side(*args):
        barrier.wait()
        return stage(*args)

    monkeypatch.setattr(load, "_stage_chunk", side_by_side)
    assert prepared(2) == one_by_one
    assert [row[1:] for row in one_by_one[::2]] == [(5, 2, 0)] * 4
