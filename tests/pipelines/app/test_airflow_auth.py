"""Airflow's UI and REST API sit behind its auth manager, with the users `sealdeal airflow setup`
creates: a real `airflow api-server` on 127.0.0.1, asked through its REST API."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.app.airflow_env import airflow_environ, airflow_users, setup_airflow
from pipelines.core.settings import Settings
from tests.airflow_rest import call

AIRFLOW = Path(sys.executable).with_name("airflow")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _token(base: str, user: str, password: str) -> str | None:
    status, body = call(f"{base}/auth/token", "POST", {"username": user, "password": password})
    return body["access_token"] if status == 201 else None


def test_users_and_roles_come_from_the_setting_and_are_checked():
    assert airflow_users({}) == {"admin": "admin", "operator": "op", "viewer": "viewer"}
    assert airflow_users({"SEALDEAL_AIRFLOW_USERS": "ana:op"}) == {"ana": "op"}
    with pytest.raises(ValueError, match="unknown Airflow role"):
        airflow_users({"SEALDEAL_AIRFLOW_USERS": "ana:root"})


def test_the_users_command_names_users_roles_and_the_password_file_only(tmp_path):
    from click.testing import CliRunner

    from pipelines.app.cli import main

    result = CliRunner().invoke(main, ["--home", str(tmp_path), "airflow", "users"])
    assert result.exit_code == 0, result.output
    passwords = json.loads((tmp_path / "airflow" / "passwords.json").read_text())
    assert "viewer       viewer" in result.output and "passwords.json" in result.output
    assert not any(p in result.output for p in passwords.values())


@pytest.mark.airflow
def test_the_api_server_admits_only_configured_users_with_their_roles(tmp_path):
    settings = Settings(home=tmp_path / "home")
    setup_airflow(settings)
    passwords_file = settings.home / "airflow" / "passwords.json"
    assert stat.S_IMODE(passwords_file.stat().st_mode) == 0o600
    passwords = json.loads(passwords_file.read_text())
    assert set(passwords) == {"admin", "operator", "viewer"}
    setup_airflow(settings)  # idempotent: the passwords stay
    assert json.loads(passwords_file.read_text()) == passwords

    # The DAGs into the metadata DB, as the dag-processor would put them.
    subprocess.run(
        [str(AIRFLOW), "dags", "reserialize"],
        env=airflow_environ(settings),
        check=True,
        capture_output=True,
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(AIRFLOW), "api-server", "--host", "127.0.0.1", "--port", str(port), "-w", "1"],
        env=airflow_environ(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while call(f"{base}/api/v2/monitor/health")[0] != 200:
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "api-server did not come up"
            time.sleep(1)

        assert call(f"{base}/api/v2/dags")[0] == 401  # nobody signed in
        assert _token(base, "admin", "not-the-password") is None
        assert _token(base, "mallory", passwords["admin"]) is None

        viewer = _token(base, "viewer", passwords["viewer"])
        status, dags = call(f"{base}/api/v2/dags", token=viewer)
        assert status == 200
        assert {"ingest_debriefs", "build_insights"} <= {d["dag_id"] for d in dags["dags"]}
        # A viewer may look, not change: pausing a DAG is refused.
        patch = {"is_paused": True}
        assert call(f"{base}/api/v2/dags/ingest_debriefs", "PATCH", patch, viewer)[0] == 403
        operator = _token(base, "operator", passwords["operator"])
        status, dag = call(f"{base}/api/v2/dags/ingest_debriefs", "PATCH", patch, operator)
        assert (status, dag["is_paused"]) == (200, True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    # No password in what the server printed.
    output = server.stdout.read()
    assert not any(p in output for p in passwords.values())
