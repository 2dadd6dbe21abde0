"""DuckDB's buffer limits: one variable, a smaller default for the ingest's commits."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.core.settings import MEMORY_ENV, Settings


def _applied(limit: str) -> float:
    """The limit DuckDB applies, in bytes (it reports e.g. '488.2 MiB')."""
    con = duckdb.connect()
    con.execute("SET memory_limit = ?", [limit])
    value, unit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0].split()
    return float(value) * {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}[unit]


def test_the_ingest_buffer_is_smaller_unless_the_operator_sets_one(tmp_path, monkeypatch):
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    settings = Settings(home=tmp_path)
    assert _applied(settings.ingest_memory_limit) == pytest.approx(256e6, rel=1e-3)
    assert _applied(settings.duckdb_memory_limit) == pytest.approx(1e9, rel=1e-3)
    monkeypatch.setenv(MEMORY_ENV, "300MB")
    assert settings.ingest_memory_limit == settings.duckdb_memory_limit == "300MB"
