"""Snapshots for the dashboard tests, each made by the real pipeline: the shared 2,000-interview
run (`built_home`), an empty warehouse, and a tiny one where every arm is below the minimum n."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.core.settings import Settings
from tests.conftest import TEST_KEY

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives headless Chromium against `streamlit run` (needs chromium)"
    )


def publish_home(home: Settings) -> None:
    from pipelines.insights.build import TRACKING_NAME, build
    from pipelines.release.publishing import publish_marts as publish
    from warehouse.store import EventStore

    build(home)
    with EventStore(home.warehouse_path) as store:
        publish(store.con, home.published_dir, store.tracked_position(TRACKING_NAME))


@pytest.fixture(scope="session")
def empty_home(tmp_path_factory) -> Settings:
    """A snapshot published from an event log with no events."""
    from warehouse.store import EventStore

    home = Settings(home=tmp_path_factory.mktemp("empty") / "home")
    EventStore(home.warehouse_path).close()
    publish_home(home)
    return home


@pytest.fixture(scope="session")
def tiny_home(tmp_path_factory) -> Settings:
    """40 generated interviews: every tactic arm has fewer than 30 decided interviews."""
    from pipelines.ingest.load import ingest_paths
    from pipelines.synthetic.generate import generate

    root = tmp_path_factory.mktemp("tiny")
    generate(root / "gen", interviews=40, seed=3)
    home = Settings(home=root / "home")
    ingest_paths([root / "gen"], home, TEST_KEY.encode())
    publish_home(home)
    return home


@pytest.fixture
def app(monkeypatch):
    """Make an AppTest of the dashboards on a home (and optionally a firm scope)."""

    def make(home: Settings, firm: str | None = None) -> AppTest:
        monkeypatch.setenv("SEALDEAL_HOME", str(home.home))
        if firm:
            monkeypatch.setenv("SEALDEAL_FIRM", firm)
        else:
            monkeypatch.delenv("SEALDEAL_FIRM", raising=False)
        return AppTest.from_file(str(APP), default_timeout=120)

    return make
