"""pipelines.app.cluster, the Python side of scripts/cluster.sh, without starting the cluster
(tests/deploy/test_cluster.py starts it): the configuration it writes, how Airflow's environment
follows it, and how services are found running and stopped."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import time

import pytest

from pipelines.app import cluster
from pipelines.app.airflow_env import CLUSTER_ENV, airflow_environ, write_passwords
from pipelines.core.settings import Settings


def _free_ports() -> dict[str, str]:
    """A free port for each of the cluster's, so that a running cluster is never in the way."""
    sockets = [socket.socket() for _ in cluster.PORTS]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        ports = [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
    variables = [variable for _, variable in cluster.PORTS.values()]
    return {variable: str(port) for variable, port in zip(variables, ports, strict=True)}


def test_without_the_cluster_airflow_stays_on_sqlite_whatever_the_caller_set(tmp_path):
    caller = {"AIRFLOW_HOME": "/elsewhere", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://x"}
    env = airflow_environ(Settings(home=tmp_path), base=caller)
    assert env["AIRFLOW_HOME"] == str(tmp_path / "airflow")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path}/airflow/airflow.db"


def test_with_the_cluster_its_home_database_and_executor_are_kept(tmp_path):
    caller = {
        CLUSTER_ENV: str(tmp_path / "cluster"),
        "AIRFLOW_HOME": str(tmp_path / "cluster" / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://a:b@127.0.0.1:1/airflow",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    }
    env = airflow_environ(Settings(home=tmp_path), base=caller)
    assert {k: env[k] for k in caller} == caller
    passwords = env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert passwords == str(tmp_path / "cluster" / "airflow" / "passwords.json")
    written = write_passwords(Settings(home=tmp_path), caller)
    assert written == tmp_path / "cluster" / "airflow" / "passwords.json"
    assert not (tmp_path / "airflow").exists()


def test_the_cluster_marker_without_its_settings_is_refused(tmp_path):
    with pytest.raises(ValueError, match="source the cluster's env file"):
        airflow_environ(Settings(home=tmp_path), base={CLUSTER_ENV: "/x", "AIRFLOW_HOME": "/x"})


def test_ports_come_from_their_variable_then_the_base_then_the_env_file():
    recorded = {"SEALDEAL_CLUSTER_PG_PORT": "6000", "SEALDEAL_CLUSTER_API_PORT": "6001"}
    assert cluster.wanted_ports({}, {}) == {
        "postgres": 55432,
        "redis": 55479,
        "api": 55480,
        "dashboards": 55501,
    }
    assert cluster.wanted_ports({}, recorded)["postgres"] == 6000
    assert cluster.wanted_ports({"SEALDEAL_CLUSTER_PORT_BASE": "40000"}, recorded) == {
        "postgres": 40032,
        "redis": 40079,
        "api": 40080,
        "dashboards": 40101,
    }
    assert cluster.wanted_ports({"SEALDEAL_CLUSTER_API_PORT": "7"}, recorded)["api"] == 7


def test_the_env_file_is_private_stable_and_what_a_shell_gets_by_sourcing_it(tmp_path):
    layout = cluster.Layout(home=tmp_path)
    ports = _free_ports()
    shell_vars = cluster.configure(layout, ports, write=True)
    secrets = layout.secrets_file.read_text()
    env = cluster.read_env_file(layout.env_file)
    for path in (layout.env_file, layout.secrets_file, layout.redis_conf):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert shell_vars["PG_PORT"] == ports["SEALDEAL_CLUSTER_PG_PORT"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW_HOME"] == str(tmp_path / "cluster" / "airflow")
    assert env["SEALDEAL_AIRFLOW_PASSWORD"] in (layout.airflow_home / "passwords.json").read_text()
    # Written again (a second `up`): the same secrets, the same file.
    cluster.configure(layout, ports, write=True)
    assert layout.secrets_file.read_text() == secrets
    assert cluster.read_env_file(layout.env_file) == env

    sourced = subprocess.run(
        ["bash", "-c", 'source "$0" && env -0', str(layout.env_file)],
        env={"PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "error"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    shell = dict(item.split("=", 1) for item in sourced.split("\0") if item)
    for name, value in env.items():
        if name in cluster.APPENDED:  # extended, not replaced
            sep = cluster.APPENDED[name]
            expected = f"{value}{sep}{'/usr/bin:/bin' if name == 'PATH' else 'error'}"
            assert shell[name] == expected
        else:
            assert shell[name] == value, name


def test_a_service_is_stopped_with_its_restart_loop_and_children(tmp_path):
    """A supervised service as the script starts one: its own session, a bash restart loop whose
    child is the service. Stopping it ends both, and the loop does not start it again."""
    layout = cluster.Layout(home=tmp_path)
    layout.run_dir.mkdir(parents=True)
    loop = subprocess.Popen(
        ["setsid", "bash", "-c", "while :; do sleep 300; done"],
        env={"PATH": "/usr/bin:/bin", cluster.SERVICE_ENV: "demo", CLUSTER_ENV: str(layout.root)},
    )
    layout.pidfile("demo").write_text(f"{loop.pid}\n")
    deadline = time.monotonic() + 10
    while not cluster.group_members(loop.pid) or len(cluster.group_members(loop.pid)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert cluster.running_pid(layout, "demo") == loop.pid
    assert [m for m in cluster.leftovers(layout, kill=False) if "(demo)" in m]

    assert cluster.stop(layout, ["demo", "absent"], timeout=10) == ["demo"]
    loop.wait(timeout=5)
    assert cluster.group_members(loop.pid) == []
    assert not layout.pidfile("demo").exists()
    assert cluster.running_pid(layout, "demo") is None
    assert cluster.leftovers(layout, kill=False) == []


def test_a_pid_file_older_than_its_process_is_not_the_service(tmp_path):
    """After a reboot the pid in a stale pid file may belong to another process."""
    layout = cluster.Layout(home=tmp_path)
    layout.run_dir.mkdir(parents=True)
    with subprocess.Popen(["sleep", "30"]) as other:
        path = layout.pidfile("old")
        path.write_text(f"{other.pid}\n")
        assert cluster.running_pid(layout, "old") == other.pid
        os.utime(path, (time.time() - 3600, time.time() - 3600))
        assert cluster.running_pid(layout, "old") is None
        other.kill()
