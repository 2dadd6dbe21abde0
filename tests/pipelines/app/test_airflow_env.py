"""Airflow's environment: every documented entry point finds the venv's `airflow`."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.app.airflow_env import airflow_environ
from pipelines.core.settings import Settings

VENV_BIN = Path(sys.executable).parent
BARE_PATH = "/usr/bin:/bin"  # what a shell without the venv activated has


def test_the_interpreters_bin_comes_first_on_airflows_path(tmp_path):
    env = airflow_environ(Settings(home=tmp_path), base={"PATH": BARE_PATH})
    assert env["PATH"].split(os.pathsep) == [str(VENV_BIN), "/usr/bin", "/bin"]
    assert shutil.which("airflow", path=env["PATH"]) == str(VENV_BIN / "airflow")


def _first_component_line(proc: subprocess.Popen, seconds: float) -> list[str]:
    """Lines of `airflow standalone` up to the first one a component printed (or an error)."""
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    for line in proc.stdout:
        lines.append(line.rstrip())
        started = line.startswith(("scheduler ", "dag-processor", "triggerer ", "api-server "))
        if started or "FileNotFoundError" in line or time.monotonic() > deadline:
            break
    return lines


def _stop_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    # The components stop on SIGTERM too; the group is gone when the last one has.
    deadline = time.monotonic() + 30
    with contextlib.suppress(ProcessLookupError):
        while time.monotonic() < deadline:
            os.killpg(proc.pid, 0)
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.airflow
def test_standalone_starts_its_components_outside_the_venv(tmp_path):
    """`.venv/bin/sealdeal airflow standalone` from a shell whose PATH lacks the venv: each
    component (`airflow scheduler`, ...) starts. The whole process group is stopped after."""
    env = {
        "PATH": BARE_PATH,
        "HOME": str(tmp_path),
        "SEALDEAL_HOME": str(tmp_path / "home"),
        "NO_COLOR": "1",
        "AIRFLOW__API__PORT": "0",  # any free port: nothing else on the machine is disturbed
    }
    proc = subprocess.Popen(
        [str(VENV_BIN / "sealdeal"), "airflow", "standalone"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the components go down with it
    )
    try:
        lines = _first_component_line(proc, seconds=180)
    finally:
        _stop_group(proc)
    text = "\n".join(lines)
    assert "FileNotFoundError" not in text, text
    assert lines[-1].split("|")[0].strip() in {
        "scheduler",
        "dag-processor",
        "triggerer",
        "api-server",
    }


def test_airflows_processes_drop_exactly_the_two_third_party_warnings(tmp_path):
    """A real import of what prints them (Starlette's test client without httpx2, Airflow's
    `dags test` command without graphviz): both silenced, any other warning still shown."""
    code = (
        "import warnings, fastapi.testclient, airflow.cli.commands.dag_command; "
        "warnings.warn('some other warning', UserWarning)"
    )
    env = airflow_environ(Settings(home=tmp_path))

    def printed(environ: dict[str, str]) -> str:
        run = subprocess.run(
            [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 0, run.stderr
        return run.stdout + run.stderr

    unfiltered = printed({k: v for k, v in env.items() if k != "PYTHONWARNINGS"})
    assert "graphviz" in unfiltered and "httpx2" in unfiltered  # what a bare run prints
    filtered = printed(env)
    assert "graphviz" not in filtered and "httpx2" not in filtered
    assert "some other warning" in filtered


def test_the_callers_warning_options_are_kept_and_still_win(tmp_path):
    env = airflow_environ(Settings(home=tmp_path), base={"PYTHONWARNINGS": "error"})
    options = env["PYTHONWARNINGS"].split(",")
    assert options[-1] == "error" and len(options) == 3
    again = airflow_environ(Settings(home=tmp_path), base=env)  # set once, however often
    assert again["PYTHONWARNINGS"] == env["PYTHONWARNINGS"]
