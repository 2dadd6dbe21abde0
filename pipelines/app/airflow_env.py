"""Airflow's own settings for SealDeal: a project-local home on SQLite under SEALDEAL_HOME, or,
in a shell that sourced `$SEALDEAL_HOME/cluster/env` (scripts/cluster.sh), the cluster's home and
PostgreSQL metadata DB.

Plain environment handling, no Airflow import: the CLI and the tests set these before Airflow
is imported (or started as a subprocess), so every run uses the same home, DAGs and pool.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
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


# Airflow's UI and REST API sit behind its SimpleAuthManager: these users and roles (viewer, user,
# op, admin), with random passwords that `setup_airflow` writes to a 0600 file, so that none is
# ever printed to a log. Override with SEALDEAL_AIRFLOW_USERS ("name:role,name:role").
USERS_ENV = "SEALDEAL_AIRFLOW_USERS"
DEFAULT_USERS = "admin:admin,operator:op,viewer:viewer"
PASSWORDS_FILE = "passwords.json"


def airflow_users(env: dict[str, str]) -> dict[str, str]:
    """name -> role of the Airflow users SealDeal configures."""
    pairs = (item.split(":") for item in (env.get(USERS_ENV) or DEFAULT_USERS).split(","))
    users = {name.strip(): role.strip() for name, role, *_ in pairs}
    unknown = {r for r in users.values() if r not in {"viewer", "user", "op", "admin"}}
    if unknown:
        raise ValueError(f"{USERS_ENV}: unknown Airflow role(s) {sorted(unknown)}")
    return users


# Set (to the cluster's folder) by `$SEALDEAL_HOME/cluster/env`: Airflow's home, metadata DB and
# executor are then the cluster's, which the caller's environment carries, instead of SQLite.
CLUSTER_ENV = "SEALDEAL_CLUSTER"
CLUSTER_SETTINGS = (
    "AIRFLOW_HOME",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CORE__EXECUTOR",
)


def airflow_home(settings: Settings, env: Mapping[str, str] | None = None) -> Path:
    """Airflow's home: `$SEALDEAL_HOME/airflow`, or the cluster's when CLUSTER_ENV is set."""
    env = os.environ if env is None else env
    if not env.get(CLUSTER_ENV):
        return settings.home / "airflow"
    missing = [name for name in CLUSTER_SETTINGS if not env.get(name)]
    if missing:
        raise ValueError(
            f"{CLUSTER_ENV} is set but {', '.join(missing)} not: source the cluster's env file "
            "($SEALDEAL_HOME/cluster/env, written by scripts/cluster.sh up)"
        )
    return Path(env["AIRFLOW_HOME"])


def write_passwords(settings: Settings, env: Mapping[str, str] | None = None) -> Path:
    """A random password for every configured user that has none yet (mode 0600)."""
    env = dict(os.environ if env is None else env)
    path = airflow_home(settings, env) / PASSWORDS_FILE
    known = json.loads(path.read_text()) if path.exists() else {}
    users = airflow_users(env)
    wanted = {u: known.get(u) or secrets.token_urlsafe(18) for u in users}
    if wanted != known:
        write_private(path, json.dumps(wanted, indent=1))
    os.chmod(path, 0o600)  # a file written before, by hand, keeps no wider mode either
    return path


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600 from its creation: never readable meanwhile)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


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
    """The environment of every `airflow` process of ours: SQLite under SEALDEAL_HOME, or the
    cluster's home, metadata DB and executor (kept as the caller set them) when CLUSTER_ENV is."""
    env = dict(os.environ if base is None else base)
    home = airflow_home(settings, env)
    conn = (
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        if env.get(CLUSTER_ENV)
        else f"sqlite:///{home / 'airflow.db'}"
    )
    env.update(
        {
            "PATH": interpreter_path(env.get("PATH")),
            "SEALDEAL_HOME": str(settings.home),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": conn,
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": env.get(
                "AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"
            ),
            "GX_ANALYTICS_ENABLED": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{name}:{role}" for name, role in airflow_users(env).items()
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / PASSWORDS_FILE),
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
    """Create or migrate the metadata DB, the writer pool and the UI's users; idempotent."""
    airflow_home(settings).mkdir(parents=True, exist_ok=True)
    write_passwords(settings)
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
