"""The Python side of scripts/cluster.sh: a production-shaped Airflow cluster on one machine,
without Docker (PostgreSQL, Redis, Airflow with the CeleryExecutor and two workers, the
dashboards), everything under `$SEALDEAL_HOME/cluster/`.

The script declares the services and starts them; this module computes the configuration
(ports, secrets, the env file any shell can source), tells which services run, checks their
health, stops them and verifies that nothing is left. Plain Python: nothing here imports Airflow
(the health checks ask the api-server over HTTP and ping the workers with a bare Celery client).

    python -m pipelines.app.cluster config --home H [--write]   # shell assignments for the script
    python -m pipelines.app.cluster config --home H --secret NAME   # one secret (the DB password)
    python -m pipelines.app.cluster pids --home H NAME...        # "name pid" of the running ones
    python -m pipelines.app.cluster status --home H [--wait S [--fail-on-exit]] NAME...
    python -m pipelines.app.cluster stop --home H NAME...
    python -m pipelines.app.cluster leftovers --home H [--kill]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import shlex
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pipelines.app.airflow_env import (
    CLUSTER_ENV,
    USERS_ENV,
    airflow_environ,
    airflow_users,
    write_passwords,
    write_private,
)
from pipelines.core.settings import Settings

# Every port on 127.0.0.1 only, from one base (SEALDEAL_CLUSTER_PORT_BASE, default 55400) so that
# the usual ports (5432, 6379, 8080, 8501) and other tests' ports stay free; each one can be
# overridden on its own. Name -> (offset from the base, its own variable).
PORT_BASE_ENV = "SEALDEAL_CLUSTER_PORT_BASE"
DEFAULT_PORT_BASE = 55400
PORTS = {
    "postgres": (32, "SEALDEAL_CLUSTER_PG_PORT"),  # 55432
    "redis": (79, "SEALDEAL_CLUSTER_REDIS_PORT"),  # 55479
    "api": (80, "SEALDEAL_CLUSTER_API_PORT"),  # 55480
    "dashboards": (101, "SEALDEAL_CLUSTER_DASHBOARDS_PORT"),  # 55501
}
WORKER_CONCURRENCY_ENV = "SEALDEAL_CLUSTER_WORKER_CONCURRENCY"  # task slots per celery worker
API_WORKERS_ENV = "SEALDEAL_CLUSTER_API_WORKERS"  # uvicorn workers of the api-server
STOP_TIMEOUT_ENV = "SEALDEAL_CLUSTER_STOP_TIMEOUT"  # seconds before a stopping service is killed

# Set by the script in every service process (and so in all their children): how `leftovers`
# recognises this cluster's processes. Not in the env file, so a client shell never matches.
SERVICE_ENV = "SEALDEAL_CLUSTER_SERVICE"

DB_NAME = DB_USER = "airflow"
# Extended, not replaced, when a shell sources the env file: name -> separator.
APPENDED = {"PATH": ":", "PYTHONWARNINGS": ","}
SECRET_NAMES = ("postgres_password", "redis_password", "jwt_secret", "api_secret_key", "fernet_key")


@dataclass(frozen=True)
class Layout:
    """Where the cluster keeps everything: `$SEALDEAL_HOME/cluster/`."""

    home: Path  # SEALDEAL_HOME

    @property
    def root(self) -> Path:
        return Settings(home=self.home).cluster_dir

    @property
    def env_file(self) -> Path:
        return self.root / "env"

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.json"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def pgdata(self) -> Path:
        return self.root / "postgres" / "data"

    @property
    def redis_dir(self) -> Path:
        return self.root / "redis"

    @property
    def redis_conf(self) -> Path:
        return self.redis_dir / "redis.conf"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    def pidfile(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"


# --- configuration ---------------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """The `export NAME=value` lines of an env file this module wrote (values shell-quoted; of
    the lines that extend the caller's PATH and PYTHONWARNINGS, what they put first)."""
    env: dict[str, str] = {}
    if not path.exists():
        return env
    for line in path.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            name, _, value = line.removeprefix("export ").partition("=")
            if name in APPENDED:  # 'ours'${NAME:+,$NAME}: ours
                value = value.rpartition(f"${{{name}:+")[0] or value
            words = shlex.split(value)
            env[name] = words[0] if words else ""
    return env


def wanted_ports(environ: Mapping[str, str], recorded: Mapping[str, str]) -> dict[str, int]:
    """Each port: its own variable, else the base's offset when a base is set, else what the
    env file recorded, else the default base's offset."""
    base = environ.get(PORT_BASE_ENV)
    ports = {}
    for name, (offset, variable) in PORTS.items():
        value = environ.get(variable) or (
            str(int(base) + offset) if base else recorded.get(variable)
        )
        ports[name] = int(value) if value else DEFAULT_PORT_BASE + offset
    return ports


def load_secrets(layout: Layout) -> dict[str, str]:
    """The cluster's random secrets, created once (mode 0600) and kept across `up`s."""
    path = layout.secrets_file
    known = json.loads(path.read_text()) if path.exists() else {}
    wanted = dict(known)
    for name in SECRET_NAMES:
        if not wanted.get(name):
            # A Fernet key is 32 random bytes, URL-safe base64; the others are plain tokens
            # (URL-safe: they go into the broker and database URLs as they are).
            raw = base64.urlsafe_b64encode(os.urandom(32)).decode()
            # 64 bytes: the JWT secret signs with HMAC-SHA512, which wants a key that long.
            wanted[name] = raw if name == "fernet_key" else secrets.token_urlsafe(64)
    if wanted != known:
        write_private(path, json.dumps(wanted, indent=1))
    return wanted


def admin_user(environ: Mapping[str, str]) -> str:
    users = airflow_users(dict(environ))
    return next((name for name, role in users.items() if role == "admin"), next(iter(users)))


def cluster_environ(
    layout: Layout, ports: Mapping[str, int], keys: Mapping[str, str], users: str | None
) -> dict[str, str]:
    """What a process needs to be part of the cluster, or to talk to it, before
    airflow_environ adds the project's Airflow settings (DAGs, users, warnings)."""
    conn = (
        f"postgresql+psycopg2://{DB_USER}:{keys['postgres_password']}"
        f"@127.0.0.1:{ports['postgres']}/{DB_NAME}"
    )
    api = f"http://127.0.0.1:{ports['api']}"
    env = {
        "SEALDEAL_HOME": str(layout.home),
        CLUSTER_ENV: str(layout.root),
        **{variable: str(ports[name]) for name, (_, variable) in PORTS.items()},
        "AIRFLOW_HOME": str(layout.airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": conn,
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": (
            f"redis://:{keys['redis_password']}@127.0.0.1:{ports['redis']}/0"
        ),
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{conn}",
        # Celery's own default, set so that Airflow does not warn about it in every process: a
        # task that a lost worker held goes back to the queue only after this; before then
        # Airflow's task heartbeat timeout ([scheduler] task_instance_heartbeat_timeout) has
        # failed it and its retry runs on another worker.
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
        # Every component signs and checks the same tokens, encrypts with the same key.
        "AIRFLOW__API__BASE_URL": f"{api}/",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
        "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
        "SEALDEAL_AIRFLOW_API_URL": api,
        "SEALDEAL_DASHBOARDS_URL": f"http://127.0.0.1:{ports['dashboards']}",
    }
    if users:
        env[USERS_ENV] = users
    return env


def env_file_text(env: Mapping[str, str]) -> str:
    lines = [
        "# The SealDeal cluster (scripts/cluster.sh): `source` this file to use the `airflow` CLI",
        "# against it. Written by `scripts/cluster.sh up`; holds passwords (mode 0600).",
    ]
    for name, value in env.items():
        if name in APPENDED:
            sep = APPENDED[name]
            lines.append(f"export {name}={shlex.quote(value)}${{{name}:+{sep}${name}}}")
        else:
            lines.append(f"export {name}={shlex.quote(value)}")
    return "\n".join(lines) + "\n"


def redis_conf_text(layout: Layout, port: int, password: str) -> str:
    return "\n".join(
        [
            "# Written by scripts/cluster.sh up (mode 0600: it holds the password).",
            "bind 127.0.0.1",
            f"port {port}",
            "protected-mode yes",
            "daemonize no",
            'logfile ""',  # stdout: the script sends it to logs/redis.log
            f"dir {layout.redis_dir}",
            "appendonly yes",  # queued tasks survive a restart
            f"requirepass {password}",
            "",
        ]
    )


def configure(layout: Layout, environ: Mapping[str, str], write: bool) -> dict[str, str]:
    """The cluster's settings as shell variables for the script; with write, also the folders,
    secrets, Redis's config, the Airflow users' passwords and the env file."""
    recorded = read_env_file(layout.env_file)
    # Only `up` (write) takes new ports, and only with nothing running; otherwise the recorded.
    ports = wanted_ports(environ if write or not recorded else {}, recorded)
    env_ports = {name: int(recorded[var]) for name, (_, var) in PORTS.items() if var in recorded}
    if write:
        running = [name for name in _pidfile_names(layout) if running_pid(layout, name)]
        moved = {name for name, port in env_ports.items() if port != ports[name]}
        if running and moved:
            raise SystemExit(
                f"cluster: it runs ({', '.join(running)}) on other ports than asked for "
                f"({', '.join(sorted(moved))}): `scripts/cluster.sh down` first"
            )
        if not running:
            busy = [f"{n} {p}" for n, p in ports.items() if listening(p)]
            if busy:
                raise SystemExit(
                    f"cluster: port(s) in use by another program: {', '.join(busy)}; choose "
                    f"others with {PORT_BASE_ENV} (or SEALDEAL_CLUSTER_*_PORT)"
                )
    settings = Settings(home=layout.home)
    if write:
        for folder in (layout.root, layout.run_dir, layout.logs_dir, layout.redis_dir):
            folder.mkdir(parents=True, exist_ok=True)
        # Traversable (not listable) by the `postgres` user, which must reach postgres/.
        os.chmod(layout.root, 0o711)
        keys = load_secrets(layout)
        write_private(
            layout.redis_conf, redis_conf_text(layout, ports["redis"], keys["redis_password"])
        )
        users = environ.get(USERS_ENV) or recorded.get(USERS_ENV)
        base = cluster_environ(layout, ports, keys, users)
        full = airflow_environ(settings, base={**base, "PATH": ""})
        passwords = json.loads(write_passwords(settings, full).read_text())
        admin = admin_user(full)
        full["SEALDEAL_AIRFLOW_USER"] = admin
        full["SEALDEAL_AIRFLOW_PASSWORD"] = passwords[admin]
        write_private(layout.env_file, env_file_text(full))
    return {
        "CLUSTER_DIR": str(layout.root),
        "ENV_FILE": str(layout.env_file),
        "RUN_DIR": str(layout.run_dir),
        "LOGS_DIR": str(layout.logs_dir),
        "PGDATA": str(layout.pgdata),
        "PG_PORT": str(ports["postgres"]),
        "REDIS_CONF": str(layout.redis_conf),
        "REDIS_PORT": str(ports["redis"]),
        "API_PORT": str(ports["api"]),
        "API_WORKERS": environ.get(API_WORKERS_ENV) or "1",
        "DASHBOARDS_PORT": str(ports["dashboards"]),
        "WORKER_CONCURRENCY": environ.get(WORKER_CONCURRENCY_ENV) or "2",
        "DB_NAME": DB_NAME,
        "DB_USER": DB_USER,
    }


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# --- processes -------------------------------------------------------------------------------


def _pidfile_names(layout: Layout) -> list[str]:
    return sorted(p.stem for p in layout.run_dir.glob("*.pid")) if layout.run_dir.exists() else []


def alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def running_pid(layout: Layout, name: str) -> int | None:
    """The pid of the service when it runs. Its pid file is written as it starts, so a process
    with that pid that started at another time (a pid reused after a reboot) is not it."""
    import psutil

    path = layout.pidfile(name)
    try:
        pid = int(path.read_text().strip())
        started = psutil.Process(pid).create_time()
    except (OSError, ValueError, psutil.Error):
        return None
    if abs(started - path.stat().st_mtime) > 10 or not alive(pid):
        return None
    return pid


def group_members(pgid: int) -> list[int]:
    """Live processes of a process group (zombies, which only await their parent, excluded)."""
    import psutil

    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
    return members


# Started as they are; every other service runs under the script's restart loop (a bash whose
# child is the service's own process).
UNSUPERVISED = ("postgres", "redis")


def _ask_to_stop(name: str, pid: int) -> None:
    """What a supervisor does (systemd's KillMode=mixed, a container's stop): the signal to the
    service's main process only, which stops its own children. PostgreSQL: SIGINT, its fast
    shutdown. A supervised service: its restart loop goes first (bash dies of SIGTERM at once),
    then the service, so that it is not started again; a celery worker then shuts down warm."""
    import psutil

    with contextlib.suppress(psutil.Error):
        children = [] if name in UNSUPERVISED else psutil.Process(pid).children()
        os.kill(pid, signal.SIGINT if name == "postgres" else signal.SIGTERM)
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.terminate()


def stop(layout: Layout, names: Iterable[str], timeout: float) -> list[str]:
    """Stop the services together and wait until each one's whole process group has gone;
    what is left after timeout seconds is killed. Returns the services stopped."""
    stopping: dict[str, int] = {}
    for name in names:
        pid = running_pid(layout, name)
        if pid is None:
            layout.pidfile(name).unlink(missing_ok=True)
            continue
        _ask_to_stop(name, pid)
        stopping[name] = pid
    deadline = time.monotonic() + timeout
    waiting = dict(stopping)
    while waiting:
        waiting = {n: pid for n, pid in waiting.items() if alive(pid) or group_members(pid)}
        if not waiting:
            break
        if time.monotonic() > deadline:
            for name, pid in waiting.items():
                print(f"  {name}: still running after {timeout:g} s, killed", file=sys.stderr)
                for member in {pid, *group_members(pid)}:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(member, signal.SIGKILL)
            deadline = time.monotonic() + 10
            timeout = 10
        time.sleep(0.2)
    for name in stopping:
        layout.pidfile(name).unlink(missing_ok=True)
    return list(stopping)


def leftovers(layout: Layout, kill: bool) -> list[str]:
    """What of this cluster still runs after a stop: processes carrying its service marker
    (task processes included, whatever their group), and its ports still answering."""
    import psutil

    found = []
    me = os.getpid()
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            env = proc.environ()
            if (
                proc.pid != me
                and env.get(SERVICE_ENV)
                and env.get(CLUSTER_ENV) == str(layout.root)
                and proc.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(f"pid {proc.pid} ({env[SERVICE_ENV]}): {' '.join(proc.cmdline())}")
                if kill:
                    proc.kill()
    recorded = read_env_file(layout.env_file)
    if recorded:
        ports = wanted_ports({}, recorded)
        found += [
            f"port {port} ({name}) still open" for name, port in ports.items() if listening(port)
        ]
    return found


# --- health ----------------------------------------------------------------------------------


def _get(url: str, timeout: float = 3.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, b""
    except (OSError, urllib.error.URLError):
        return 0, b""


class Probe:
    """One round of health checks; each remote answer asked for once per round."""

    # The api-server's /api/v2/monitor/health reports these components.
    COMPONENTS: ClassVar[dict[str, str]] = {
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag_processor",
        "airflow-triggerer": "triggerer",
    }

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self._health: dict | str | None = None
        self._workers: list[str] | str | None = None
        self._celery = None

    def problem(self, name: str) -> str | None:
        """None when the service is healthy, else what is wrong."""
        check = {
            "postgres": self._postgres,
            "redis": self._redis,
            "airflow-api-server": self._api_server,
            "dashboards": self._dashboards,
        }.get(name)
        if check:
            return check()
        if name in self.COMPONENTS:
            return self._component(self.COMPONENTS[name])
        if name.startswith("airflow-worker-"):
            return self._worker(name.removeprefix("airflow-"))
        return None  # no check known: running is all there is to say

    def _postgres(self) -> str | None:
        import psycopg2

        url = self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg2", "")
        try:
            with contextlib.closing(psycopg2.connect(url, connect_timeout=3)) as con:
                con.cursor().execute("SELECT 1")
        except psycopg2.Error as exc:
            return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None

    def _redis(self) -> str | None:
        import redis

        try:
            client = redis.Redis.from_url(self.env["AIRFLOW__CELERY__BROKER_URL"], socket_timeout=3)
            with contextlib.closing(client):
                return None if client.ping() else "no PONG"
        except redis.RedisError as exc:
            return str(exc)

    def health(self) -> dict | str:
        if self._health is None:
            status, body = _get(f"{self.env['SEALDEAL_AIRFLOW_API_URL']}/api/v2/monitor/health")
            self._health = (
                json.loads(body)
                if status == 200
                else f"health endpoint: HTTP {status}"
                if status
                else "the api-server does not answer (yet)"
            )
        return self._health

    def _api_server(self) -> str | None:
        health = self.health()
        if isinstance(health, str):
            return health
        status = health.get("metadatabase", {}).get("status")
        return None if status == "healthy" else f"metadatabase {status}"

    def _component(self, key: str) -> str | None:
        health = self.health()
        if isinstance(health, str):
            return health
        status = (health.get(key) or {}).get("status")
        return None if status == "healthy" else f"{key} {status or 'unknown'} (api-server health)"

    def workers(self) -> list[str] | str:
        """Names of the celery workers answering a ping through the broker."""
        if self._workers is None:
            try:
                from celery import Celery

                app = Celery(broker=self.env["AIRFLOW__CELERY__BROKER_URL"])
                app.conf.broker_connection_retry_on_startup = False
                app.conf.broker_connection_max_retries = 0
                with contextlib.closing(app):
                    replies = app.control.ping(timeout=2.0)
                self._workers = [name for reply in replies for name in reply]
            except Exception as exc:  # the broker down: say so, do not fail the whole status
                self._workers = f"celery ping: {type(exc).__name__}: {exc}"
        return self._workers

    def _worker(self, node: str) -> str | None:
        workers = self.workers()
        if isinstance(workers, str):
            return workers
        if any(name.startswith(f"{node}@") for name in workers):
            return None
        return f"no celery ping answer from {node}@… (answered: {', '.join(workers) or 'none'})"

    def _dashboards(self) -> str | None:
        status, _ = _get(f"{self.env['SEALDEAL_DASHBOARDS_URL']}/_stcore/health")
        if status == 200:
            return None
        return f"/_stcore/health: HTTP {status}" if status else "does not answer (yet)"


def service_states(layout: Layout, names: list[str]) -> list[tuple[str, int | None, str | None]]:
    """(name, pid or None, problem or None) per service."""
    probe = Probe(read_env_file(layout.env_file))
    states = []
    for name in names:
        pid = running_pid(layout, name)
        problem = "not running" if pid is None else probe.problem(name)
        states.append((name, pid, problem))
    return states


def exits(layout: Layout, name: str) -> list[float]:
    """When a supervised service's command exited (and was started again by the script)."""
    path = layout.run_dir / f"{name}.exits"
    return [float(t) for t in path.read_text().split()] if path.exists() else []


def print_states(layout: Layout, states, file=None) -> None:
    for name, pid, problem in states:
        where = f"pid {pid}" if pid else "-"
        said = "healthy" if problem is None else problem
        restarts = len(exits(layout, name)) if pid else 0
        if restarts:
            said += f" (restarted {restarts}x, see {layout.log(name)})"
        print(f"  {name:<24}{where:<12}{said}", file=file or sys.stdout)


def log_tail(layout: Layout, name: str, lines: int = 25) -> str:
    path = layout.log(name)
    if not path.exists():
        return f"(no log at {path})"
    tail = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(f"    | {line}" for line in tail) or "    | (empty)"


def wait_healthy(layout: Layout, names: list[str], timeout: float, fail_on_exit: bool) -> bool:
    """Until every service is healthy; False (after printing which one and its log) when one
    stopped running, or (fail_on_exit) its command exited meanwhile, or timeout seconds passed."""
    began = time.time()
    deadline = time.monotonic() + timeout
    while True:
        states = service_states(layout, names)
        if all(problem is None for _, _, problem in states):
            return True
        dead = [
            (name, pid, problem or "exited")
            for name, pid, problem in states
            if pid is None or (fail_on_exit and any(t >= began - 1 for t in exits(layout, name)))
        ]
        if dead or time.monotonic() > deadline:
            if dead:
                why = f"{', '.join(name for name, _, _ in dead)} stopped or exited while starting"
            else:
                why = f"not healthy after {timeout:g} s"
            print(f"cluster: {why}:", file=sys.stderr)
            print_states(layout, states, file=sys.stderr)
            for name, _, problem in dead or [s for s in states if s[2] is not None]:
                print(f"\n  {name}: {problem}; last lines of {layout.log(name)}:", file=sys.stderr)
                print(log_tail(layout, name), file=sys.stderr)
            return False
        time.sleep(1)


# --- command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.app.cluster")
    parser.add_argument("command", choices=["config", "pids", "status", "stop", "leftovers"])
    parser.add_argument("names", nargs="*", help="service names (as in scripts/cluster.sh)")
    parser.add_argument("--home", type=Path, required=True, help="SEALDEAL_HOME")
    parser.add_argument("--write", action="store_true", help="config: write the cluster's files")
    parser.add_argument("--wait", type=float, help="status: wait up to this many seconds")
    parser.add_argument(
        "--fail-on-exit", action="store_true", help="status --wait: fail when a command exits"
    )
    parser.add_argument("--kill", action="store_true", help="leftovers: kill what is found")
    parser.add_argument("--secret", choices=SECRET_NAMES, help="config: print this secret only")
    args = parser.parse_intermixed_args(argv)
    layout = Layout(home=args.home.resolve())

    if args.command == "config" and args.secret:
        print(json.loads(layout.secrets_file.read_text())[args.secret])
        return 0
    if args.command == "config":
        for name, value in configure(layout, os.environ, write=args.write).items():
            print(f"{name}={shlex.quote(value)}")
        return 0
    if args.command == "pids":
        for name in args.names:
            pid = running_pid(layout, name)
            if pid:
                print(name, pid)
        return 0
    if args.command == "status":
        if args.wait is not None:
            ok = wait_healthy(layout, args.names, args.wait, args.fail_on_exit)
            return 0 if ok else 1
        states = service_states(layout, args.names)
        print_states(layout, states)
        return 0 if all(problem is None for _, _, problem in states) else 1
    if args.command == "stop":
        timeout = float(os.environ.get(STOP_TIMEOUT_ENV) or 60)
        stop(layout, args.names, timeout)
        return 0
    found = leftovers(layout, kill=args.kill)
    for item in found:
        print(f"  left running: {item}", file=sys.stderr)
    return 1 if found and not args.kill else 0


if __name__ == "__main__":
    sys.exit(main())
