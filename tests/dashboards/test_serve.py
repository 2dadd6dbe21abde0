"""`sealdeal serve`: starts Streamlit on the dashboards with the home and the firm scope."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.app import cli


@pytest.fixture
def execs(monkeypatch):
    calls = []

    def fake_execve(path, argv, env):
        calls.append((path, argv, env))

    monkeypatch.setattr("os.execve", fake_execve)
    return calls


def test_serve_runs_streamlit_on_the_app_with_port_and_firm(execs, tmp_path, monkeypatch):
    monkeypatch.delenv("SEALDEAL_FIRM", raising=False)
    result = CliRunner().invoke(
        cli.main, ["--home", str(tmp_path), "serve", "--port", "8642", "--firm", "north-star"]
    )
    assert result.exit_code == 0, result.output
    assert "http://localhost:8642 (firm north-star)" in result.output
    ((path, argv, env),) = execs
    assert path == sys.executable
    assert argv[1:4] == ["-m", "streamlit", "run"]
    assert Path(argv[4]) == Path(cli.__file__).parents[2] / "dashboards" / "app.py"
    assert argv[argv.index("--server.port") + 1] == "8642"
    assert argv[argv.index("--server.headless") + 1] == "true"
    # Its table export would write formulas as they are (the pages' downloads quote them).
    assert argv[argv.index("--client.disableDataExport") + 1] == "true"
    assert env["SEALDEAL_FIRM"] == "north-star"
    assert env["SEALDEAL_HOME"] == str(tmp_path.resolve())


def test_serve_without_firm_drops_an_inherited_scope(execs, tmp_path, monkeypatch):
    monkeypatch.setenv("SEALDEAL_FIRM", "left-over")
    result = CliRunner().invoke(cli.main, ["--home", str(tmp_path), "serve"])
    assert result.exit_code == 0, result.output
    ((_, argv, env),) = execs
    assert argv[argv.index("--server.port") + 1] == "8501"
    assert "SEALDEAL_FIRM" not in env


def test_serve_refuses_a_malformed_firm(execs, tmp_path):
    result = CliRunner().invoke(cli.main, ["--home", str(tmp_path), "serve", "--firm", "A B"])
    assert result.exit_code == 2
    assert "not a firm id" in result.output
    assert not execs
