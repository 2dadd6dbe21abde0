"""The pseudonymisation key stays where it is kept: never in a log, output, snapshot or export.

The Airflow side (XComs, task logs, Airflow's metadata DB) is tested on real DAG runs in
tests/dags/test_build_insights.py.
"""

from __future__ import annotations

import base64
import logging
import stat
from pathlib import Path

import polars as pl
from click.testing import CliRunner
from polars.testing import assert_frame_equal

from pipelines.app.cli import main
from pipelines.core.settings import KEY_ENV, Settings
from pipelines.ingest.load import ingest_paths
from pipelines.insights.build import build
from pipelines.insights.marts import MARTS
from pipelines.privacy.audit import Needles, run_audit
from pipelines.synthetic.generate import generate
from tests.conftest import TEST_KEY
from tests.samples import sorted_tables, warehouse_rows


def key_forms(key: bytes) -> list[bytes]:
    """The key as text and as it would look hex- or base64-encoded."""
    b64 = base64.b64encode(key)
    return [key, key.hex().encode(), b64, b64.rstrip(b"="), base64.urlsafe_b64encode(key)]


def files_holding(root: Path, forms: list[bytes], skip: tuple[Path, ...] = ()) -> list[str]:
    """Files under root whose bytes contain a form of the key (text files, uncompressed pages)."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and path not in skip:
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}" for form in forms if form in data]
    return found


def key_findings(settings: Settings, key: bytes) -> list:
    """Decoded text columns of every DuckDB and Parquet file too (their pages are compressed)."""
    needles = Needles(secrets=tuple(f.decode() for f in key_forms(key)))
    report = run_audit(settings, needles=needles)
    assert report.scanned["duckdb_files"] >= 2 and report.scanned["parquet_files"] >= 1
    return report.findings


def test_the_key_is_in_no_file_of_a_built_and_published_home(built_home):
    forms = key_forms(TEST_KEY.encode())
    assert files_holding(built_home.home, forms) == []
    assert key_findings(built_home, TEST_KEY.encode()) == []


def test_a_cli_run_with_a_key_file_never_prints_or_logs_the_key(tmp_path, monkeypatch, caplog):
    """init creates the key file (0600); generate, ingest, build, publish and audit with every
    logger at DEBUG: the key appears in no output, no log record and no file but its own."""
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "home"
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(main, ["--home", str(home), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    outputs = [run("init")]
    settings = Settings(home=home)
    key = settings.key_file.read_bytes().strip()
    assert len(key) >= 32
    assert stat.S_IMODE(settings.key_file.stat().st_mode) == 0o600
    outputs += [
        run(
            "generate",
            "--out",
            str(settings.landing_dir),  # the firm's files go in its zone
            "--interviews",
            "300",
            "--firms",
            "1",
        ),
        run("ingest", "--no-progress", str(settings.landing_dir)),
        run("build"),
        run("publish"),
        run("audit"),  # exits 0: clean, and the key file itself is not an output
        run("init"),  # a second init keeps the key
    ]
    assert settings.key_file.read_bytes().strip() == key
    (events,) = warehouse_rows(settings, "SELECT count(*) FROM eventstore.events")[0]
    (quarantined,) = warehouse_rows(settings, "SELECT count(*) FROM ingest.quarantine")[0]
    assert events > 300 and quarantined == 0  # every generated record was taken in

    forms = key_forms(key)
    printed = "\n".join(outputs) + caplog.text
    assert caplog.records, "nothing was logged: the check would prove nothing"
    assert not [f for f in forms if f.decode() in printed]
    assert files_holding(home, forms, skip=(settings.key_file,)) == []
    assert key_findings(settings, key) == []


def tables(settings: Settings) -> dict[str, pl.DataFrame]:
    queries = {"keys": "SELECT client_key, interview_key FROM marts.fct_interviews"}
    queries.update({mart: f"SELECT * FROM marts.{mart}" for mart in MARTS})
    return sorted_tables(settings.warehouse_path, queries)


def test_rotating_the_key_is_a_new_warehouse_from_the_same_landing_files(tmp_path):
    """What docs/privacy.md describes: under a new key every pseudonym changes and every
    aggregate stays; the old warehouse cannot take the new key's events (same files)."""
    landing = tmp_path / "landing"
    generate(landing, interviews=300, seed=13, firms=1)
    old_key, new_key = b"old-key-" + b"1" * 40, b"new-key-" + b"2" * 40
    old, new = Settings(home=tmp_path / "old"), Settings(home=tmp_path / "new")
    for settings, key in ((old, old_key), (new, new_key)):
        ingest_paths([landing], settings, key)
        build(settings)
    before, after = tables(old), tables(new)

    assert before["keys"].height == after["keys"].height > 200
    for column in ("client_key", "interview_key"):
        assert set(before["keys"][column]).isdisjoint(after["keys"][column])
    for mart in MARTS:
        # The estimators sum rows in pseudonym order: new pseudonyms, last-bit differences.
        assert_frame_equal(
            before[mart], after[mart], check_exact=False, rel_tol=1e-9, abs_tol=1e-12
        )

    again = ingest_paths([landing], old, new_key)  # in place: every file is already ingested
    assert again.totals()["events_appended"] == 0
    assert again.totals()["files_skipped"] == again.totals()["files"] > 0
