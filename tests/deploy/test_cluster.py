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
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from pipelines.app.cluster import alive, group_members, listening
from tests.airflow_rest import call
from tests.deploy.services import SERVICES, cluster_services

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "cluster.sh"
CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"


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
        """SIGKILL a service's whole process tree, restart loop included: it stays down
        (`script("start", name)` brings it back)."""
        pid = self.pid(name)
        assert pid, f"{name} has no pid file"
        # As a crashed machine would: the group and every descendant, such as the task processes
        # Airflow's supervisor starts in sessions of their own.
        tree: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            tree = psutil.Process(pid).children(recursive=True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        for proc in tree:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(tree, timeout=10)

    def token(self, user: str | None = None, password: str | None = None) -> str:
        """A REST API token (default: the admin of the env file)."""
        body = {
            "username": user or self.env["SEALDEAL_AIRFLOW_USER"],
            "password": password or self.env["SEALDEAL_AIRFLOW_PASSWORD"],
        }
        status, answer = call(f"{self.api_url}/auth/token", "POST", body)
        assert status == 201, status
        return answer["access_token"]

    def api(self, path: str, method: str = "GET", body: dict | None = None):
        """(status, JSON) of the REST API, signed in as the admin: api("/api/v2/dags")."""
        return call(f"{self.api_url}{path}", method, body, self.token())

    def health(self) -> dict:
        status, answer = call(f"{self.api_url}/api/v2/monitor/health")
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
            assert [n for n, p in pids.items() if alive(p)] == [], down.stdout
            assert {n: group_members(p) for n, p in pids.items() if group_members(p)} == {}, (
                down.stdout
            )
            assert [p for p in ports if listening(p)] == [], down.stdout
        finally:
            shutil.rmtree(root, ignore_errors=True)


# Not the default ports (55400 + …): a cluster of one's own may be running on those. A killed
# worker's task is declared lost after 30 s of silence instead of Airflow's 300.
TEST_PORTS = {
    "SEALDEAL_CLUSTER_PORT_BASE": "56400",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with running_cluster(TEST_PORTS) as running:
        yield running


def test_the_script_declares_the_nine_services():
    assert tuple(cluster_services(SCRIPT.read_text())) == SERVICES


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


# ------------------------------------------------------------------ the ingest on the cluster
# Two firms' files delivered in two batches, plus one of firm B's files dropped into firm A's
# zone; ingest_debriefs triggered through the REST API, build_insights following on the Asset;
# during the second run a worker is killed mid-task. After each run the warehouse must hold
# exactly what a clean single-process ingest of the same deliveries holds. They run after the
# PostgreSQL and Redis restart above: the first run is the "next run" after it.

INTERVIEWS, SEED = 4000, 11


@dataclass
class Deliveries:
    batches: list[list[str]]  # paths below landing/, in arrival order, per run
    firms: list[str]
    generated: Path


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory) -> Deliveries:
    from pipelines.synthetic.generate import generate

    out = tmp_path_factory.mktemp("generated")
    summary = generate(out, interviews=INTERVIEWS, seed=SEED, firms=2)
    files = summary["files"]
    half = len(files) // 2
    a, b = summary["firm_ids"]
    b_file = next(f for f in files[:half] if f.startswith(f"{b}/"))
    misdelivered = f"{a}/zz-misdelivered_{Path(b_file).name}"  # B's bytes, in A's zone
    (out / misdelivered).write_bytes((out / b_file).read_bytes())
    return Deliveries([[*files[:half], misdelivered], files[half:]], [a, b], out)


def deliver(deliveries: Deliveries, batch: int, landing: Path) -> None:
    for name in deliveries.batches[batch]:
        (landing / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(deliveries.generated / name, landing / name)


@pytest.fixture(scope="module")
def reference(cluster, tmp_path_factory):
    """A clean single-process ingest of the same deliveries under the cluster's key."""
    from pipelines.core.settings import Settings

    settings = Settings(home=tmp_path_factory.mktemp("reference") / "home")
    key = (cluster.home / "secret.key").read_bytes().strip()
    return settings, key


def ingest_reference(reference, deliveries: Deliveries, batch: int) -> None:
    from pipelines.ingest.load import ingest_paths

    settings, key = reference
    settings.ensure_dirs()
    deliver(deliveries, batch, settings.landing_dir)
    ingest_paths([settings.landing_dir], settings, key)


def warehouse_state(home: Path) -> dict:
    """What the warehouse holds, independent of commit interleaving: events, quarantine."""
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        events = con.execute(
            "SELECT firm_id, record_id, event_type, content_hash, source_file, source_line "
            "FROM eventstore.events ORDER BY ALL"
        ).fetchall()
        quarantine = con.execute(
            "SELECT source_file, source_line, firm_id, record_id, reasons "
            "FROM ingest.quarantine ORDER BY ALL"
        ).fetchall()
        files = con.execute(
            "SELECT content_hash, file_name, status, records, events_appended, quarantined "
            "FROM ingest.files ORDER BY ALL"
        ).fetchall()
        position = con.execute("SELECT max(position) FROM eventstore.events").fetchone()[0]
    return {"events": events, "quarantine": quarantine, "files": files, "position": position}


def trigger(cluster: Cluster, dag_id: str) -> str:
    status, run = cluster.api(f"/api/v2/dags/{dag_id}/dagRuns", "POST", {"logical_date": None})
    assert status == 200, (status, run)
    return run["dag_run_id"]


def run_path(dag_id: str, run_id: str) -> str:
    return f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"


def wait_for_run(cluster: Cluster, dag_id: str, run_id: str, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, run = cluster.api(run_path(dag_id, run_id))
        if status == 200 and run["state"] in ("success", "failed"):
            return run
        assert time.monotonic() < deadline, f"{dag_id} {run_id} still {run and run['state']}"
        time.sleep(2)


def task_instances(cluster: Cluster, dag_id: str, run_id: str) -> list[dict]:
    status, body = cluster.api(f"{run_path(dag_id, run_id)}/taskInstances?limit=1000")
    assert status == 200, status
    return body["task_instances"]


def failures(cluster: Cluster, dag_id: str, run_id: str) -> str:
    """The states of a run's tasks and the log of each failed one (for assertion messages)."""
    out = []
    for t in task_instances(cluster, dag_id, run_id):
        out.append(f"{t['task_id']}[{t['map_index']}] {t['state']} try {t['try_number']}")
        if t["state"] in ("failed", "upstream_failed") and t["try_number"]:
            path = f"{run_path(dag_id, run_id)}/taskInstances/{t['task_id']}/logs/{t['try_number']}"
            _, log = cluster.api(f"{path}?map_index={t['map_index']}&full_content=true")
            out.append(json.dumps(log)[-3000:])
    return "\n".join(out)


def build_after(cluster: Cluster, ingest_run: dict, timeout: float = 900) -> dict:
    """The build_insights run the ingest run's Asset event scheduled, once it has finished."""
    deadline = time.monotonic() + timeout
    ended = datetime.fromisoformat(ingest_run["end_date"])
    while True:
        _, body = cluster.api("/api/v2/dags/build_insights/dagRuns?order_by=-run_after")
        runs = [
            r
            for r in (body or {}).get("dag_runs", [])
            if r["run_type"] == "asset_triggered"
            and datetime.fromisoformat(r["run_after"]) >= ended - timedelta(seconds=5)
        ]
        if runs and runs[0]["state"] in ("success", "failed"):
            return runs[0]
        assert time.monotonic() < deadline, f"no finished build_insights after {ended}: {body}"
        time.sleep(3)


def test_ingest_on_the_cluster_keeps_each_firm_in_its_zone_and_publishes(
    cluster, deliveries, reference, tmp_path
):
    cluster.wait_idle()
    deliver(deliveries, 0, cluster.home / "landing")
    run_id = trigger(cluster, "ingest_debriefs")
    run = wait_for_run(cluster, "ingest_debriefs", run_id)
    tis = task_instances(cluster, "ingest_debriefs", run_id)
    assert run["state"] == "success", failures(cluster, "ingest_debriefs", run_id)
    prepared = [t for t in tis if t["task_id"] == "prepare_file"]
    assert len(prepared) == len(deliveries.batches[0])
    assert {t["state"] for t in prepared} == {"success"}
    assert all(t["hostname"] for t in prepared)

    build = build_after(cluster, run)  # the warehouse is the build's until it ends
    assert build["state"] == "success", failures(cluster, "build_insights", build["dag_run_id"])
    ingest_reference(reference, deliveries, 0)
    state = warehouse_state(cluster.home)
    assert state == warehouse_state(reference[0].home)
    a, b = deliveries.firms
    misdelivered = Path(deliveries.batches[0][-1]).name
    refused = [q for q in state["quarantine"] if q[0] == misdelivered]
    lines = (deliveries.generated / deliveries.batches[0][-1]).read_text().splitlines()
    assert len(refused) == len(lines) > 0
    why = f"record names firm {b} but was delivered in firm {a}'s zone"
    assert {(q[2], q[4][0]) for q in refused} == {(a, why)}
    assert not [e for e in state["events"] if e[4] == misdelivered]
    assert {e[0] for e in state["events"]} == {a, b}

    from warehouse.publish import published_snapshot

    snapshot = published_snapshot(cluster.home / "published")
    assert snapshot is not None and snapshot[1] == state["position"]
    # The operator's audit reads what the DAG's cannot: a task may not open the metadata DB.
    report = tmp_path / "audit.json"
    audit = cluster.shell(f"exec sealdeal audit --json {report}")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(report.read_text())["scanned"]["xcom_rows"] > 0  # PostgreSQL's XComs


def worker_running(cluster: Cluster, pid: int) -> str | None:
    """The worker service that started the task process `pid` (one of its ancestors)."""
    with contextlib.suppress(psutil.Error):
        ancestors = {p.pid for p in psutil.Process(pid).parents()}
        return next((w for w in WORKERS if cluster.pid(w) in ancestors), None)
    return None


WORKERS = ("airflow-worker-1", "airflow-worker-2")


def test_a_worker_killed_mid_task_is_retried_and_nothing_is_lost_or_doubled(
    cluster, deliveries, reference
):
    cluster.wait_idle()
    deliver(deliveries, 1, cluster.home / "landing")
    run_id = trigger(cluster, "ingest_debriefs")
    victim, worker = None, None
    deadline = time.monotonic() + 300
    while worker is None:
        running = [
            t
            for t in task_instances(cluster, "ingest_debriefs", run_id)
            if t["task_id"] == "prepare_file" and t["state"] == "running" and t["pid"]
        ]
        if running:
            victim = running[0]
            worker = worker_running(cluster, victim["pid"])
        else:
            assert time.monotonic() < deadline, "no prepare_file ever ran"
            time.sleep(0.5)
    cluster.kill(worker)  # the whole worker, mid-task: its process group, task included
    assert not alive(victim["pid"])
    try:
        run = wait_for_run(cluster, "ingest_debriefs", run_id)
    finally:
        started = cluster.script("start", worker)
    assert started.returncode == 0, started.stdout
    tis = task_instances(cluster, "ingest_debriefs", run_id)
    assert run["state"] == "success", failures(cluster, "ingest_debriefs", run_id)
    retried = next(
        t for t in tis if t["map_index"] == victim["map_index"] and t["task_id"] == "prepare_file"
    )
    assert retried["try_number"] >= 2  # the killed try failed, a later one succeeded
    assert retried["state"] == "success"

    build = build_after(cluster, run)
    assert build["state"] == "success", failures(cluster, "build_insights", build["dag_run_id"])
    ingest_reference(reference, deliveries, 1)
    state = warehouse_state(cluster.home)
    assert state == warehouse_state(reference[0].home)
    events = state["events"]
    assert len(events) == len({(e[0], e[1]) for e in events})  # nothing doubled
    assert not list((cluster.home / "staging" / "prepared").iterdir())  # nothing half-staged left
