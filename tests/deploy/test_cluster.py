"""scripts/cluster.sh: the production-shaped cluster (PostgreSQL, Redis, Airflow with the
CeleryExecutor and two workers, the dashboards) started for real, once for this module, in a
fresh SEALDEAL_HOME, and stopped at the end with nothing left running.

The `cluster` fixture is meant for scenario tests as well (see the end of the module): it gives
the home, the parsed env file, and helpers to run the script and the `airflow` CLI against it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "cluster.sh"
SERVICES = [
    "postgres",
    "redis",
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker-1",
    "airflow-worker-2",
    "dashboards",
]
CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"


def declared_services() -> list[str]:
    """The names of the script's SERVICES array ("name|command" per line)."""
    block = re.search(r"^SERVICES=\(\n(.*?)\n\)", SCRIPT.read_text(), re.S | re.M)
    assert block, "no SERVICES=( ... ) array in scripts/cluster.sh"
    return [line.strip().strip('"').split("|", 1)[0] for line in block.group(1).splitlines()]


def clean_environ(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This session's environment less what other tests put into it (Airflow settings of an
    earlier dag.test(), a key, warning options), with the cluster's home."""
    drop = ("SEALDEAL_", "AIRFLOW", "PYTHONWARNINGS", "GX_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, "SEALDEAL_HOME": str(home), **(extra or {})}


@dataclass
class Cluster:
    """A running cluster: its SEALDEAL_HOME, the env file as a dict, and helpers."""

    home: Path
    env: dict[str, str]  # $SEALDEAL_HOME/cluster/env, as a shell that sourced it has it
    extra_env: dict[str, str]  # what the fixture passed to `up` (SEALDEAL_*, AIRFLOW__*)

    @property
    def dir(self) -> Path:
        return self.home / "cluster"

    @property
    def api_url(self) -> str:
        return self.env["SEALDEAL_AIRFLOW_API_URL"]

    def script(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """scripts/cluster.sh ARGS on this home (output: stdout and stderr together)."""
        return subprocess.run(
            [str(SCRIPT), *args],
            env=clean_environ(self.home, self.extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )

    def shell(self, command: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """A bash command in a shell that sourced the env file."""
        return subprocess.run(
            ["bash", "-c", f'source "$0" && {command}', str(self.dir / "env")],
            env=clean_environ(self.home),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def airflow_cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """`airflow ARGS` against the cluster, as after `source $SEALDEAL_HOME/cluster/env`."""
        return self.shell(shlex.join(["exec", "airflow", *args]), timeout)

    def pid(self, name: str) -> int | None:
        """The pid in run/NAME.pid: the service's process-group leader (for the Airflow
        services and the dashboards, the restart loop whose child is the service itself)."""
        path = self.dir / "run" / f"{name}.pid"
        return int(path.read_text()) if path.exists() else None

    def pids(self) -> dict[str, int | None]:
        return {name: self.pid(name) for name in SERVICES}

    def kill(self, name: str) -> None:
        """SIGKILL a service's whole process group, restart loop included: it stays down
        (`script("start", name)` brings it back)."""
        pid = self.pid(name)
        assert pid, f"{name} has no pid file"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)

    def token(self, user: str | None = None, password: str | None = None) -> str:
        """A REST API token (default: the admin of the env file)."""
        body = {
            "username": user or self.env["SEALDEAL_AIRFLOW_USER"],
            "password": password or self.env["SEALDEAL_AIRFLOW_PASSWORD"],
        }
        status, answer = _call(f"{self.api_url}/auth/token", "POST", body)
        assert status == 201, status
        return answer["access_token"]

    def api(self, path: str, method: str = "GET", body: dict | None = None):
        """(status, JSON) of the REST API, signed in as the admin: api("/api/v2/dags")."""
        return _call(f"{self.api_url}{path}", method, body, self.token())

    def health(self) -> dict:
        status, answer = _call(f"{self.api_url}/api/v2/monitor/health")
        return answer if status == 200 else {}

    def wait_idle(self, timeout: float = 300) -> None:
        """Until no DAG run is queued or running (the scheduler starts ingest_debriefs itself
        when it first sees it: unpaused, every 15 minutes)."""
        deadline = time.monotonic() + timeout
        while True:
            status, runs = self.api("/api/v2/dags/~/dagRuns?state=queued&state=running")
            if status == 200 and runs["total_entries"] == 0:
                return
            assert time.monotonic() < deadline, f"DAG runs still going: {runs}"
            time.sleep(2)


def _call(url: str, method: str = "GET", body: dict | None = None, token: str | None = None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, None
    except (urllib.error.URLError, OSError):  # not listening (yet)
        return 0, None


def read_env(env_file: Path) -> dict[str, str]:
    """The env file as a shell has it after sourcing it (from an empty environment)."""
    out = subprocess.run(
        ["bash", "-c", 'source "$0" && env -0', str(env_file)],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(item.split("=", 1) for item in out.split("\0") if item and "=" in item)


def _can_install() -> bool:
    """The servers are there, or apt can bring them (as root, or with sudo)."""
    if shutil.which("redis-server") and list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        return True
    return bool(shutil.which("apt-get")) and (os.geteuid() == 0 or bool(shutil.which("sudo")))


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _group(pgid: int) -> list[int]:
    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
    return members


@contextlib.contextmanager
def running_cluster(extra_env: dict[str, str] | None = None) -> Iterator[Cluster]:
    """`scripts/cluster.sh up` in a fresh SEALDEAL_HOME under /tmp (mode 0755: PostgreSQL runs
    as the `postgres` user when the tests run as root, and must reach its data folder; pytest's
    own temporary folders are 0700), then `down`, checking that nothing is left running."""
    if not _can_install() and not os.environ.get("CI"):
        pytest.skip("PostgreSQL/Redis missing, and no apt-get (as root or with sudo) for them")
    root = Path(tempfile.mkdtemp(prefix="sealdeal-cluster-", dir="/tmp"))
    root.chmod(0o755)
    cluster = Cluster(home=root / "home", env={}, extra_env=dict(extra_env or {}))
    try:
        up = cluster.script("up", timeout=900)
        assert up.returncode == 0, up.stdout
        cluster.env = read_env(cluster.dir / "env")
        yield cluster
    finally:
        pids = {n: p for n, p in cluster.pids().items() if p}
        port = re.compile(r"SEALDEAL_CLUSTER_\w+_PORT")
        ports = [int(v) for k, v in cluster.env.items() if port.fullmatch(k)]
        down = cluster.script("down", timeout=300)
        try:
            assert down.returncode == 0, down.stdout
            assert [n for n, p in pids.items() if not _gone(p)] == [], down.stdout
            assert {n: _group(p) for n, p in pids.items() if _group(p)} == {}, down.stdout
            assert [p for p in ports if _listening(p)] == [], down.stdout
        finally:
            shutil.rmtree(root, ignore_errors=True)


# Not the default ports (55400 + …): a cluster of one's own may be running on those.
TEST_PORTS = {"SEALDEAL_CLUSTER_PORT_BASE": "56400"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with running_cluster(TEST_PORTS) as running:
        yield running


def test_the_script_declares_the_nine_services():
    assert declared_services() == SERVICES


def test_every_service_runs_and_is_healthy(cluster):
    status = cluster.script("status")
    assert status.returncode == 0, status.stdout
    for name in SERVICES:
        assert re.search(rf"^  {name}\s+pid \d+\s+healthy$", status.stdout, re.M), status.stdout
    health = cluster.health()
    assert {k: v["status"] for k, v in health.items()} == {
        "metadatabase": "healthy",
        "scheduler": "healthy",
        "triggerer": "healthy",
        "dag_processor": "healthy",
    }
    assert stat_mode(cluster.dir / "env") == 0o600
    assert stat_mode(cluster.dir / "secrets.json") == 0o600


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_shell_that_sourced_the_env_file_runs_airflow_on_the_cluster(cluster):
    assert cluster.env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert cluster.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    dags = cluster.airflow_cli("dags", "list", "-o", "json")
    assert dags.returncode == 0, dags.stderr
    assert {"ingest_debriefs", "build_insights"} <= {d["dag_id"] for d in json.loads(dags.stdout)}
    pool = cluster.airflow_cli("pools", "get", "sealdeal_duckdb_writer", "-o", "json")
    assert pool.returncode == 0, pool.stderr
    assert json.loads(pool.stdout)[0]["slots"] == "1"


def test_both_celery_workers_answer_a_ping(cluster):
    ping = cluster.shell(f"exec celery --app {CELERY_APP} inspect ping --timeout 5")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    answered = set(re.findall(r"->\s+(worker-\d)@\S+: OK", ping.stdout))
    assert answered == {"worker-1", "worker-2"}, ping.stdout


def test_up_again_leaves_the_running_services_alone(cluster):
    before = cluster.pids()
    again = cluster.script("up")
    assert again.returncode == 0, again.stdout
    assert again.stdout.count("already running") == len(SERVICES), again.stdout
    assert cluster.pids() == before
    assert read_env(cluster.dir / "env") == cluster.env  # same secrets, same passwords


def _heartbeats(health: dict) -> dict[str, datetime | None]:
    names = {"scheduler": "scheduler", "triggerer": "triggerer", "dag_processor": "dag_processor"}
    beats = {}
    for key, name in names.items():
        value = (health.get(key) or {}).get(f"latest_{name}_heartbeat")
        beats[key] = datetime.fromisoformat(value) if value else None
    return beats


def test_postgres_and_redis_restarted_while_idle_and_the_cluster_recovers(cluster):
    cluster.wait_idle()
    restarted_at = datetime.now(UTC)
    restart = cluster.script("restart", "postgres")
    assert restart.returncode == 0, restart.stdout
    stop = cluster.script("stop", "redis")
    assert stop.returncode == 0, stop.stdout
    status = cluster.script("status")  # says what is down, and fails
    assert status.returncode != 0
    assert re.search(r"^  redis\s+-\s+not running$", status.stdout, re.M), status.stdout
    start = cluster.script("start", "redis")
    assert start.returncode == 0, start.stdout
    # Recovered: every component has reported to the new database since (the ones that exited
    # for want of it were started again), the workers answer through the new Redis (status
    # pings them), and the CLI works.
    deadline = time.monotonic() + 180
    while True:
        health = cluster.health()
        beats = _heartbeats(health)
        fresh = all(b and b > restarted_at for b in beats.values())
        if fresh and cluster.script("status").returncode == 0:
            break
        assert time.monotonic() < deadline, (health, cluster.script("status").stdout)
        time.sleep(2)
    dags = cluster.airflow_cli("dags", "list", "-o", "json")
    assert dags.returncode == 0, dags.stderr
    assert "ingest_debriefs" in dags.stdout


# Scenario tests on the running cluster go here (they share the `cluster` fixture; e.g. trigger
# ingest_debriefs through cluster.api(...) or cluster.airflow_cli("dags", "trigger", ...), kill a
# worker mid-run with cluster.kill("airflow-worker-1"), follow the run with cluster.api(...),
# bring the worker back with cluster.script("start", "airflow-worker-1")).
