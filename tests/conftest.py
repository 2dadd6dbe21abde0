"""Shared fixtures: a fresh SEALDEAL_HOME per test, small generated landing data."""

from __future__ import annotations

import os

import pytest

from pipelines.config import KEY_ENV, Settings

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

TEST_KEY = "test-key-" + "0" * 48


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    home = tmp_path / "home"
    monkeypatch.setenv("SEALDEAL_HOME", str(home))
    monkeypatch.setenv(KEY_ENV, TEST_KEY)
    s = Settings.from_env()
    s.ensure_dirs()
    return s


@pytest.fixture
def master_key() -> bytes:
    return TEST_KEY.encode()
