"""A home that `sealdeal refresh` has ingested, built, checked, published and audited once
(300 generated interviews): tests that change anything work on a copy."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pipelines.app.cli import main
from pipelines.core.settings import KEY_ENV, Settings
from pipelines.synthetic.generate import generate
from tests.conftest import TEST_KEY


def sealdeal(settings: Settings, *args: str) -> Result:
    """The CLI in-process on this home. Not an Airflow home an earlier dag.test() left in the
    environment: the audit would scan its logs too."""
    env = {KEY_ENV: TEST_KEY, "AIRFLOW_HOME": None, "SEALDEAL_WAIT": None}
    return CliRunner().invoke(main, ["--home", str(settings.home), *args], env=env)


@dataclass(frozen=True)
class Refreshed:
    settings: Settings
    result: Result  # of the first refresh


@pytest.fixture(scope="session")
def refreshed(tmp_path_factory) -> Refreshed:
    settings = Settings(home=tmp_path_factory.mktemp("refreshed") / "home")
    generate(settings.landing_dir, interviews=300, seed=3)  # each firm's files in its zone
    return Refreshed(settings, sealdeal(settings, "refresh"))


@pytest.fixture
def home(refreshed, tmp_path) -> Settings:
    """A copy of the refreshed home (`published/current` is a relative link: it follows)."""
    copy = Settings(home=tmp_path / "home")
    shutil.copytree(refreshed.settings.home, copy.home, symlinks=True)
    return copy


def current_snapshot_id(settings: Settings) -> str | None:
    link = settings.published_dir / "current"
    return Path(link).resolve().name if link.exists() else None
