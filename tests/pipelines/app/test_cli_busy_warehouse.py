"""Two real processes on one warehouse: DuckDB lets one of them write. A `sealdeal` command that
needs the warehouse waits for it, saying for whom, up to --wait seconds, then gives up in one
line; `status` and `sql` answer from the published snapshot meanwhile."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipelines.core.settings import KEY_ENV, Settings
from tests.conftest import TEST_KEY

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SEALDEAL = Path(sys.executable).with_name("sealdeal")

# A process that opens the warehouse for writing as every pipeline step does (EventStore), and
# holds it until its stdin closes. argv: database [name it gives itself].
HOLD = """
import sys
from warehouse.store import EventStore
if len(sys.argv) > 2:
    from warehouse.lock import LockWait, set_lock_wait
    set_lock_wait(LockWait(name=sys.argv[2]))
store = EventStore(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
store.close()
"""


@pytest.fixture
def home(built_home, tmp_path) -> Settings:
    """A copy of the shared built and published home (2,000 interviews)."""
    copy = Settings(home=tmp_path / "home")
    shutil.copytree(built_home.home, copy.home, symlinks=True)
    return copy


@contextmanager
def holding(settings: Settings, name: str | None = None):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(settings.warehouse_path), *([name] if name else [])],
        cwd=PROJECT_ROOT,
        env=environ(settings),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "holding"
        yield proc
    finally:
        release(proc)


def release(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.stdin.close()
        proc.wait(timeout=60)


def environ(settings: Settings, **extra: str) -> dict[str, str]:
    # Not this test process's Airflow context (a dag.test() run leaves it in os.environ): a
    # process inside an Airflow task names itself after the task.
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "SEALDEAL_WAIT" and not k.startswith("AIRFLOW_CTX_")
    }
    return {**env, "SEALDEAL_HOME": str(settings.home), KEY_ENV: TEST_KEY, **extra}


def sealdeal(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SEALDEAL), *args],
        env=environ(settings, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_writer_waits_then_gives_up_in_one_line(home):
    with holding(home) as holder:
        started = time.monotonic()
        result = sealdeal(home, "build", "--wait", "1.5")
        waited = time.monotonic() - started
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    # Nameless, the holder is named after its program (in the whole suite it was once seen
    # named after an Airflow task of an earlier in-process dag.test: the PID is what matters).
    match = re.fullmatch(
        rf"waiting for the warehouse: (held by .+, PID {holder.pid}) \(up to 1\.5 s\)", lines[0]
    )
    assert match, lines[0]
    held_by = match.group(1)
    assert lines[-1].startswith(f"Error: the warehouse is busy: {held_by}; gave up after 1.5 s")
    assert len(lines) == 2, lines
    assert waited >= 1.5


def test_a_writer_waits_for_the_holder_and_then_runs(home):
    with holding(home, name="sealdeal ingest") as holder:
        build = subprocess.Popen(
            [str(SEALDEAL), "build", "--wait", "120"],
            env=environ(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        told = build.stderr.readline().strip()
        assert told == (
            f"waiting for the warehouse: held by sealdeal ingest, PID {holder.pid} (up to 120 s)"
        )
        assert build.poll() is None  # still waiting
        release(holder)
        out, err = build.communicate(timeout=300)
    assert build.returncode == 0, err
    assert "Traceback" not in err
    assert out.startswith("events ") and "(0 new)" in out
    assert not Path(f"{home.warehouse_path}.writer").exists()  # each writer takes its note away


def test_the_wait_comes_from_the_environment_too(home):
    with holding(home, name="sealdeal erase") as holder:
        result = sealdeal(home, "publish", SEALDEAL_WAIT="0")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: the warehouse is busy: held by sealdeal erase, PID {holder.pid}; gave up after "
        "0 s (try again when it has finished, or wait longer with --wait SECONDS)"
    ]


def test_status_and_sql_answer_from_the_snapshot_while_a_write_is_in_progress(home):
    with holding(home, name="sealdeal ingest") as holder:
        status = sealdeal(home, "status")
        sql = sealdeal(home, "sql", "SELECT snapshot_id FROM meta.snapshot", "--format", "csv")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0] == (
        f"a write is in progress: the warehouse is held by sealdeal ingest, PID {holder.pid}"
    )
    assert lines[1].startswith("from the published snapshot ")
    assert "files by status:" in lines and "  ingested" in status.stdout
    assert "quarantine reasons:" in lines
    assert sql.returncode == 0, sql.stderr
    snapshot_id = lines[1].removeprefix("from the published snapshot ").removesuffix(":")
    assert sql.stdout.splitlines() == ['"snapshot_id"', f'"{snapshot_id}"']
    assert "Traceback" not in status.stderr + sql.stderr

    after = sealdeal(home, "status")  # the write has finished: the warehouse answers again
    assert after.stdout.startswith("events by type:")
