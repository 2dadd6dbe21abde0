"""Shared fixtures: a fresh SEALDEAL_HOME per test, small generated landing data."""

from __future__ import annotations

import os

import pytest

from pipelines.core.settings import KEY_ENV, Settings

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


@pytest.fixture(scope="session")
def built_home(tmp_path_factory) -> Settings:
    """One real pipeline run shared by read-only tests: generated landing files -> ingest ->
    build -> publish. Tests that change anything must work on a copy."""
    from pipelines.ingest.load import ingest_paths
    from pipelines.insights.build import TRACKING_NAME, build
    from pipelines.release.publishing import publish_marts as publish
    from pipelines.synthetic.generate import generate
    from warehouse.store import EventStore

    root = tmp_path_factory.mktemp("built")
    generate(root / "gen", interviews=2000, seed=5)
    home = Settings(home=root / "home")
    ingest_paths([root / "gen"], home, TEST_KEY.encode())
    build(home)
    with EventStore(home.warehouse_path) as store:
        publish(store.con, home.published_dir, store.tracked_position(TRACKING_NAME))
    return home
