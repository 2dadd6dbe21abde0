"""Hostile firm-supplied text through the real pipeline (`sealdeal ingest`, `build`, `publish`):
the snapshot keeps it exact, every CSV the product writes (the dashboards' downloads, `sealdeal
sql --format csv`) hands it to a spreadsheet as text, never as a formula."""

from __future__ import annotations

import csv
import io

import duckdb
import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import app_test

from dashboards import PAGES
from pipelines.app.cli import main
from pipelines.core.settings import KEY_ENV, Settings
from tests.conftest import TEST_KEY
from tests.dashboards.test_app import RecordingStorage
from tests.samples import DEBRIEF, debrief, write_jsonl, zone
from warehouse.publish import snapshot_file

# OWASP's triggers as a firm could type them (a leading tab or carriage return is trimmed on the
# way in; tests/warehouse/test_csv_safe.py has those).
HOSTILE = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("x","click me")',
    "+SUM(1+1)",
    "-2+3",
    "@SUM(A1:A2)",
]
CLIENT = "Jo Client <jo@example.org>"


def sealdeal(home: Settings) -> CliRunner:
    return CliRunner(env={"SEALDEAL_HOME": str(home.home), KEY_ENV: TEST_KEY})


@pytest.fixture(scope="module")
def hostile_home(tmp_path_factory) -> Settings:
    """One client's interviews with a formula in industry and role family, published."""
    home = Settings(home=tmp_path_factory.mktemp("hostile") / "home")
    records = [
        debrief(i, industry=value, role_family=value, client_ref=CLIENT)
        for i, value in enumerate(HOSTILE)
    ]
    landing = write_jsonl(zone(home) / "2026-03-01.jsonl", records)  # the firm's own zone
    for args in (["ingest", "--no-progress", str(landing)], ["build"], ["publish"]):
        result = sealdeal(home).invoke(main, args)
        assert result.exit_code == 0, result.output
    return home


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_snapshot_keeps_the_values_exact(hostile_home):
    con = duckdb.connect(str(snapshot_file(hostile_home.published_dir, part="firms")), True)
    try:
        rows = con.execute("SELECT industry, role_family FROM detail.fct_interviews")
        assert sorted(rows.fetchall()) == sorted((v, v) for v in HOSTILE)
    finally:
        con.close()


def test_the_dashboards_csv_download_quotes_every_formula(hostile_home, app, monkeypatch):
    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", RecordingStorage)
    at = app(hostile_home).run()
    assert not at.exception, [e.value for e in at.exception]
    journeys = next(path for _, path in PAGES if path.endswith("journeys.py"))
    RecordingStorage.files = {}
    at.switch_page(journeys).run()
    assert not at.exception, [e.value for e in at.exception]
    (download,) = [v for k, v in RecordingStorage.files.items() if "client_interviews" in k]
    rows = csv_rows(download.decode())
    assert sorted(r["industry"] for r in rows) == sorted(f"'{v}" for v in HOSTILE)
    assert sorted(r["role_family"] for r in rows) == sorted(f"'{v}" for v in HOSTILE)
    for row in rows:  # nothing else in it starts a formula either
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values())


def test_sql_csv_quotes_every_formula(hostile_home):
    query = "SELECT industry, role_family, -1 AS minus_one FROM detail.fct_interviews"
    args = ["sql", "--firm", DEBRIEF["firm_id"], query, "--format", "csv"]
    result = sealdeal(hostile_home).invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.output)
    assert sorted(r["industry"] for r in rows) == sorted(f"'{v}" for v in HOSTILE)
    assert {r["minus_one"] for r in rows} == {"-1"}  # a number stays a number
