"""Who holds a warehouse: DuckDB's lock error names a PID, the writer's note names the command."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from warehouse.lock import LockWait, connect, lock_holder, set_lock_wait
from warehouse.store import EventStore


def conflict(pid: int) -> duckdb.IOException:
    return duckdb.IOException(
        'IO Error: Could not set lock on file "/x/warehouse.duckdb": Conflicting lock is held in '
        f"/usr/local/bin/python3.11 (PID {pid}). See also https://duckdb.org/docs"
    )


@pytest.fixture
def database(tmp_path) -> str:
    return str(tmp_path / "warehouse.duckdb")


def write_note(database: str, command: str, pid: int) -> None:
    with open(database + ".writer", "w") as fh:
        json.dump({"command": command, "pid": pid}, fh)


def test_the_writers_note_names_the_holder_when_its_pid_is_duckdbs(database):
    write_note(database, "sealdeal ingest", 4242)
    assert lock_holder(database, conflict(4242)) == "sealdeal ingest, PID 4242"


def test_a_stale_note_is_not_believed(database):
    write_note(database, "sealdeal build", 17)  # a writer that crashed long ago
    assert lock_holder(database, conflict(4242)) == "python3.11, PID 4242"


def test_other_errors_are_no_lock_conflict(database):
    assert lock_holder(database, duckdb.IOException("IO Error: disk full")) is None
    with pytest.raises(duckdb.IOException, match="does not exist"):
        connect(database, read_only=True, wait=LockWait(seconds=5))  # not waited for


def test_a_writer_leaves_its_note_and_takes_it_away(database):
    previous = set_lock_wait(LockWait(name="sealdeal publish"))
    try:
        store = EventStore(database)
        note = json.loads(Path(database + ".writer").read_text())
        assert note == {"command": "sealdeal publish", "pid": os.getpid()}
        store.close()
        assert not os.path.exists(database + ".writer")
        EventStore(database, read_only=True).close()  # readers leave none
        assert not os.path.exists(database + ".writer")
    finally:
        set_lock_wait(previous)


def test_inside_an_airflow_task_the_note_names_the_task(database, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "ingest_debriefs")
    monkeypatch.setenv("AIRFLOW_CTX_TASK_ID", "commit_files")
    with EventStore(database):
        note = json.loads(Path(database + ".writer").read_text())
    assert note["command"] == "Airflow task ingest_debriefs.commit_files"
