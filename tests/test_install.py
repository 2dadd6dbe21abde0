"""What the one install command (scripts/bootstrap.sh, run by the test and demo commands) sets up
beyond the locked packages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "great_expectations",
        "airflow.sdk",
        "polars",
        "streamlit",
        "pipelines.ingest.load",
        "dashboards.data",
    ],
)
def test_modules_are_installed_with_their_bytecode(module):
    """Without it every process compiles what it imports, and each time where
    PYTHONDONTWRITEBYTECODE is set: importing Great Expectations took 9.3 s instead of 4.5 s."""
    source = importlib.util.find_spec(module).origin
    compiled = Path(importlib.util.cache_from_source(source))
    assert compiled.exists(), f"{module} has no bytecode: run scripts/bootstrap.sh"
