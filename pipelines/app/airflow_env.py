"""Airflow's own settings for SealDeal: a project-local home on SQLite under SEALDEAL_HOME.

Plain environment handling, no Airflow import: the CLI and the tests set these before Airflow
is imported (or started as a subprocess), so every run uses the same home, DAGs and pool.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from pipelines.core.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = PROJECT_ROOT / "dags"

# DuckDB allows one writing process per file: every task that opens the warehouse for writing
# takes this pool's single slot.
WRITER_POOL = "sealdeal_duckdb_writer"

# Every SealDeal task: retried (transient I/O, a busy pool), backing off, owned by the product.
DEFAULT_ARGS = {
    "owner": "sealdeal",
    "retries": 2,
    "retry_delay": timedelta(seconds=20),
    "retry_exponential_backoff": True,
}

# The event-log Asset: ingestion updates it, the insights DAG is scheduled on it. DAG files build
# `Asset(name=..., uri=...)` from these so producer and consumers always agree.
INSIGHTS_ASSET = {
    "name": "sealdeal_published_snapshot",
    "uri": "file:///sealdeal/published/current",
}
EVENT_LOG_ASSET = {
    "name": "sealdeal_event_log",
    "uri": "file:///sealdeal/warehouse/eventstore/events",
}


def interpreter_path(path: str | None) -> str:
    """PATH with this interpreter's bin folder first: Airflow starts its components as plain
    `airflow ...`, which must be the one installed beside us even when the venv is not activated
    (`.venv/bin/sealdeal airflow standalone`)."""
    # Not resolved: a venv's python is a symlink to the base interpreter, whose bin has no airflow.
    bin_dir = str(Path(sys.executable).parent)
    return os.pathsep.join([bin_dir, *(p for p in (path or "").split(os.pathsep) if p)])


# Third-party warnings that every `airflow` command of ours would print and that nothing here can
# act on, each matched by its message's start, category and the module it names as its origin,
# so that no other warning is hidden:
# - `airflow dags test` imports Airflow's graph renderer, which warns when the optional graphviz
#   package is missing: no graph is ever rendered here.
# - Airflow runs its task API in-process through Starlette's test client, which asks for the
#   httpx2 package; Airflow's own client is built on httpx, which it requires.
QUIET_WARNINGS = (
    ("Could not import graphviz", "UserWarning", "airflow.cli.commands.dag_command"),
    (
        "Using `httpx` with `starlette.testclient` is deprecated",
        "UserWarning",  # StarletteDeprecationWarning derives from it
        "fastapi.testclient",
    ),
)


def python_warnings(existing: str | None) -> str:
    """PYTHONWARNINGS for Airflow's processes: ours first, so that the caller's own options
    (processed later, hence consulted first) still win, `error` included."""
    ours = [f"ignore:{message}:{category}:{module}" for message, category, module in QUIET_WARNINGS]
    theirs = [o for o in (existing or "").split(",") if o and o not in ours]  # set once only
    return ",".join([*ours, *theirs])


def airflow_environ(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    home = settings.home / "airflow"
    env.update(
        {
            "PATH": interpreter_path(env.get("PATH")),
            "SEALDEAL_HOME": str(settings.home),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": env.get(
                "AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"
            ),
            "GX_ANALYTICS_ENABLED": "False",
            "PYTHONWARNINGS": python_warnings(env.get("PYTHONWARNINGS")),
        }
    )
    return env


def _airflow(*args: str, settings: Settings, check: bool = True) -> subprocess.CompletedProcess:
    airflow_bin = Path(sys.executable).with_name("airflow")
    return subprocess.run(
        [str(airflow_bin), *args], env=airflow_environ(settings), check=check, text=True
    )


def setup_airflow(settings: Settings) -> None:
    """Create or migrate the metadata DB and the writer pool; idempotent."""
    (settings.home / "airflow").mkdir(parents=True, exist_ok=True)
    _airflow("db", "migrate", settings=settings)
    _airflow(
        "pools",
        "set",
        WRITER_POOL,
        "1",
        "DuckDB warehouse writes (one writer at a time)",
        settings=settings,
    )


def run_dag(dag_id: str, settings: Settings) -> int:
    """Run one DAG to completion in-process of the `airflow dags test` command."""
    return _airflow("dags", "test", dag_id, settings=settings, check=False).returncode


def standalone(settings: Settings) -> None:
    _airflow("standalone", settings=settings)
