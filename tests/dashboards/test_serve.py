"""`sealdeal serve`: starts Streamlit on the dashboards with the home and the firm scope, on
127.0.0.1 by default; with SEALDEAL_AUTH_CONFIG, checks the access table and hands the file to
Streamlit as its secrets (st.login's [auth])."""

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
    monkeypatch.delenv("SEALDEAL_AUTH_CONFIG", raising=False)
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
    monkeypatch.delenv("SEALDEAL_AUTH_CONFIG", raising=False)
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


def test_serve_listens_on_localhost_unless_told_otherwise(execs, tmp_path, monkeypatch):
    monkeypatch.delenv("SEALDEAL_AUTH_CONFIG", raising=False)
    result = CliRunner().invoke(cli.main, ["--home", str(tmp_path), "serve"])
    assert result.exit_code == 0, result.output
    ((_, argv, env),) = execs
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert "local mode: one user, no sign-in" in result.output
    assert "--secrets.files" not in argv and "SEALDEAL_AUTH_CONFIG" not in env
    CliRunner().invoke(cli.main, ["--home", str(tmp_path), "serve", "--address", "0.0.0.0"])
    assert execs[1][1][execs[1][1].index("--server.address") + 1] == "0.0.0.0"


AUTH_CONFIG = """
[auth]
redirect_uri = "https://sealdeal.example.com/oauth2callback"
cookie_secret = "0123456789abcdef0123456789abcdef"
client_id = "sealdeal"
client_secret = "s3cret"
server_metadata_url = "https://login.example.com/.well-known/openid-configuration"

[access]
[[access.users]]
email = "ana@north-star.example"
role = "coach"
firm = "north-star"
"""


def test_serve_with_sign_in_hands_streamlit_the_auth_file_and_prunes_the_access_log(
    execs, tmp_path, monkeypatch
):
    config = tmp_path / "auth.toml"
    config.write_text(AUTH_CONFIG)
    old = tmp_path / "home" / "access_log" / "access-2020-01.jsonl"
    old.parent.mkdir(parents=True)
    old.write_text("{}\n")
    monkeypatch.setenv("SEALDEAL_AUTH_CONFIG", str(config))
    monkeypatch.setenv("SEALDEAL_FIRM", "left-over")
    result = CliRunner().invoke(cli.main, ["--home", str(tmp_path / "home"), "serve"])
    assert result.exit_code == 0, result.output
    ((_, argv, env),) = execs
    # Streamlit's st.login reads [auth] from this file, and from no other.
    assert argv[argv.index("--secrets.files") + 1] == str(config.resolve())
    assert argv[argv.index("--server.enableXsrfProtection") + 1] == "true"
    assert env["SEALDEAL_AUTH_CONFIG"] == str(config.resolve())
    assert "SEALDEAL_FIRM" not in env
    assert "sign-in with OpenID Connect: 1 e-mail address(es) and 0 group(s)" in result.output
    assert not old.exists()  # older than the 90 days kept


def test_serve_with_sign_in_refuses_firm_and_a_bad_access_table(execs, tmp_path, monkeypatch):
    config = tmp_path / "auth.toml"
    config.write_text(AUTH_CONFIG)
    monkeypatch.setenv("SEALDEAL_AUTH_CONFIG", str(config))
    result = CliRunner().invoke(
        cli.main, ["--home", str(tmp_path), "serve", "--firm", "north-star"]
    )
    assert result.exit_code == 2 and "--firm is for local mode" in result.output
    config.write_text(AUTH_CONFIG.replace('role = "coach"', 'role = "boss"'))
    result = CliRunner().invoke(cli.main, ["--home", str(tmp_path), "serve"])
    assert result.exit_code == 1
    assert "[[access.users]] #1: unknown role 'boss'" in result.output
    monkeypatch.setenv("SEALDEAL_AUTH_CONFIG", str(tmp_path / "missing.toml"))
    result = CliRunner().invoke(cli.main, ["--home", str(tmp_path), "serve"])
    assert result.exit_code == 1 and "cannot read it" in result.output
    assert not execs
