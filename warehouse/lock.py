"""One writing process per DuckDB file, and who it is.

DuckDB lets one process open a file for writing (or any number of processes for reading); any
other gets an IOException naming the holder's executable and PID. Opening through `connect`
waits for the file instead, as long as this process's LockWait allows. A writer also leaves a
note of what it is (`sealdeal ingest`, an Airflow task) beside the file, so that waiters can say
whom they wait for; the note is only believed when its PID is the one DuckDB names, so a crashed
writer's stale note misleads nobody.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb


class WarehouseBusy(Exception):
    """Another process held the database file for longer than this one would wait."""

    def __init__(self, database: str, holder: str, waited: float):
        self.holder = holder
        self.waited = waited
        super().__init__(f"{database} is held by {holder} (waited {waited:g} s)")


WRITER_NOTE_SUFFIX = ".writer"
_LOCK_CONFLICT = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


@dataclass(frozen=True)
class LockWait:
    """How this process opens a database file another process holds: it waits up to `seconds`
    (0: fails at once), telling `on_wait` once who it waits for; as a writer it names itself
    `name` (default: its Airflow task or its program)."""

    seconds: float = 0.0
    on_wait: Callable[[str], None] | None = None
    name: str | None = None
    poll: float = 0.25


_lock_wait = LockWait()


def set_lock_wait(policy: LockWait) -> LockWait:
    """Set this process's LockWait (the CLI does, from --wait); returns the previous one."""
    global _lock_wait
    previous, _lock_wait = _lock_wait, policy
    return previous


def _process_name() -> str:
    dag, task = os.environ.get("AIRFLOW_CTX_DAG_ID"), os.environ.get("AIRFLOW_CTX_TASK_ID")
    if dag and task:
        return f"Airflow task {dag}.{task}"
    program = Path(sys.argv[0]).name if sys.argv else ""
    return program if program and not program.startswith("-") else Path(sys.executable).name


def _writer_note(database: str) -> Path:
    return Path(database + WRITER_NOTE_SUFFIX)


def lock_holder(database: str, exc: duckdb.Error) -> str | None:
    """Who holds `database` ("sealdeal ingest, PID 4242"), or None when `exc` is no lock
    conflict."""
    text = str(exc)
    if "Could not set lock" not in text:
        return None
    found = _LOCK_CONFLICT.search(text)
    pid = int(found["pid"]) if found else None
    try:
        note = json.loads(_writer_note(database).read_text())
    except (OSError, ValueError):
        note = None
    if isinstance(note, dict) and note.get("pid") and note.get("pid") in (pid, None):
        return f"{note.get('command') or 'another process'}, PID {note['pid']}"
    if found:
        return f"{Path(found['program']).name}, PID {pid}"
    return "another process"


def connect(
    database: str, *, read_only: bool = False, wait: LockWait | None = None
) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, waiting (per `wait`, default: this process's LockWait) while another
    process holds the file; raises WarehouseBusy when it still does after that."""
    policy = wait or _lock_wait
    deadline = time.monotonic() + policy.seconds
    told = None
    while True:
        try:
            return duckdb.connect(database, read_only=read_only)
        except duckdb.IOException as exc:
            holder = lock_holder(database, exc)
            left = deadline - time.monotonic()
            if holder is None:
                raise
            if left <= 0:
                raise WarehouseBusy(database, holder, policy.seconds) from None
            if policy.on_wait and holder != told:
                policy.on_wait(holder)
                told = holder
            time.sleep(min(policy.poll, left))


def leave_writer_note(database: str) -> Path:
    note = _writer_note(database)
    text = json.dumps({"command": _lock_wait.name or _process_name(), "pid": os.getpid()})
    partial = note.with_name(f".{note.name}.{os.getpid()}")
    partial.write_text(text)
    partial.replace(note)  # whole or not at all: a waiter may read it any moment
    return note


def remove_writer_note(note: Path) -> None:
    try:
        if json.loads(note.read_text()).get("pid") == os.getpid():
            note.unlink()
    except (OSError, ValueError):
        pass  # gone already, or another writer's by now
