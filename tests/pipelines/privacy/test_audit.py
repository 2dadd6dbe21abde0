"""The PII audit on a real built warehouse: clean as built, and every planted leak is caught.

Planted values go into copies of the shared `built_home` (generated landing files -> ingest ->
build -> publish), found generically (any snapshot file, any text column), so the tests keep
working whatever the snapshot layout is.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner

from pipelines.app.cli import main
from pipelines.app.tasks import audit_pii
from pipelines.core.settings import KEY_ENV, Settings
from pipelines.ingest.load import ingest_paths
from pipelines.insights.build import TRACKING_NAME, build
from pipelines.landing.files import landing_files
from pipelines.privacy.audit import (
    AuditError,
    Needles,
    PiiFound,
    audit_locations,
    distinctive_ref,
    load_needles,
    redact,
    run_audit,
    scan_texts,
)
from pipelines.release.publishing import publish_marts as publish
from pipelines.synthetic.generate import generate
from tests.conftest import TEST_KEY
from warehouse.publish import current_snapshot
from warehouse.store import EventStore

PLANTED_EMAIL = "jane.roe-4821@example.org"
PLANTED_PHONE = "+44 20 7946 0958"
PLANTED_URL = "https://www.linkedin.com/in/jane-roe-4821"


@pytest.fixture(autouse=True)
def key_env(monkeypatch):
    """The key built_home was pseudonymised with; AIRFLOW_HOME of other tests is not ours."""
    monkeypatch.setenv(KEY_ENV, TEST_KEY)
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)


def copy_home(built_home: Settings, target: Path) -> Settings:
    """A writable copy of the built home, with its landing files where ingestion expects them."""
    shutil.copytree(built_home.home, target, symlinks=True)
    generated = built_home.home.parent / "gen"  # where tests/conftest.py generated them
    assert landing_files([generated]), "built_home's landing files moved"
    shutil.copytree(generated, target / "landing", dirs_exist_ok=True)  # each firm's zone
    for path in target.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)  # snapshots may be made read-only
    return Settings(home=target)


@pytest.fixture(scope="module")
def audited(built_home, tmp_path_factory) -> Settings:
    return copy_home(built_home, tmp_path_factory.mktemp("audited") / "home")


@pytest.fixture
def home(built_home, tmp_path) -> Settings:
    return copy_home(built_home, tmp_path / "home")


def snapshot_databases(settings: Settings) -> list[Path]:
    found = sorted(
        p for p in settings.published_dir.rglob("*.duckdb") if p.is_file() and not p.is_symlink()
    )
    assert found, "no published snapshot database"
    return found


def plant_in_duckdb(path: Path, value: str, schema: str | None = None) -> str:
    """Overwrite one row of a VARCHAR column (of `schema` if it has one) with value; its name."""
    con = duckdb.connect(str(path))
    try:
        candidates = con.execute(
            "SELECT c.schema_name, c.table_name, c.column_name FROM duckdb_columns() c "
            "JOIN duckdb_tables() t USING (database_name, schema_name, table_name) "
            "WHERE c.database_name = current_database() AND c.data_type = 'VARCHAR' "
            "AND t.estimated_size > 0 "
            "ORDER BY c.schema_name IS NOT DISTINCT FROM ? DESC, c.schema_name, c.table_name, "
            "c.column_index",
            [schema],
        ).fetchall()
        assert candidates, f"no text column to plant into in {path}"
        s, t, c = candidates[0]
        db = con.execute("SELECT current_database()").fetchone()[0]
        table = f'"{db}"."{s}"."{t}"'
        con.execute(
            f'UPDATE {table} SET "{c}" = ? WHERE rowid = (SELECT min(rowid) FROM {table})',
            [value],
        )
    finally:
        con.close()
    return f"{s}.{t}.{c}"


def kinds_at(report, location_part: str) -> set[str]:
    return {f.kind for f in report.findings if location_part in f.location}


def raw_client_refs(landing: Path) -> list[str]:
    refs = []
    for path in sorted(landing.rglob("*.jsonl")):
        for line in path.read_text().splitlines():
            refs.append(json.loads(line)["client_ref"])
    return refs


# --------------------------------------------------------------------------- clean as built


def test_a_real_built_home_with_its_landing_files_is_clean(audited):
    """The landing zone holds raw e-mails, names and phones; everything else must not."""
    report = run_audit(audited)
    assert report.clean, report.format()
    assert report.unchecked == []
    s = report.scanned
    assert s["duckdb_files"] >= 2  # the warehouse and at least one snapshot
    assert s["parquet_files"] >= 1 and s["text_files"] >= 1
    assert s["tables"] >= 10 and s["columns"] >= 50
    assert s["values"] > 50_000
    assert s["client_refs"] > 100 and s["landing_files"] >= 4
    assert s["secret_forms"] >= 4


def test_a_dataset_not_seen_while_writing_the_rules_is_clean_too(settings):
    """Another seed, CSV landing files (read for refs by the ingestion's CSV reader)."""
    landing = settings.landing_dir  # each firm's files in its zone
    generate(landing, interviews=1200, seed=20_261_126, fmt="csv", firms=2)
    totals = ingest_paths([landing], settings, TEST_KEY.encode()).totals()
    assert totals["events_appended"] > 0 and totals["quarantined"] == totals["files_held"] == 0
    build(settings)
    with EventStore(settings.warehouse_path) as store:
        publish(store.con, settings.published_dir, store.tracked_position(TRACKING_NAME))
    report = run_audit(settings)
    assert report.clean, report.format()
    assert report.scanned["client_refs"] > 100


# --------------------------------------------------------------------------- planted leaks


def test_planted_email_in_a_snapshot_mart_fails_the_cli_with_a_redacted_report(home, tmp_path):
    snapshot = snapshot_databases(home)[0]
    column = plant_in_duckdb(snapshot, f"follow up with {PLANTED_EMAIL}", schema="marts")
    out = tmp_path / "report.json"

    result = CliRunner().invoke(main, ["--home", str(home.home), "audit", "--json", str(out)])

    assert result.exit_code == 1, result.output
    location = str(snapshot.relative_to(home.home))
    assert location in result.output and column in result.output
    report = json.loads(out.read_text())
    assert report["clean"] is False
    assert [(f["location"], f["where"], f["kind"], f["count"]) for f in report["findings"]] == [
        (location, column, "email", 1)
    ]
    for text in (result.output, out.read_text()):
        assert PLANTED_EMAIL not in text and "jane.roe" not in text and "example.org" not in text


def test_planted_phone_in_a_parquet_export_is_found(home):
    exports = sorted(home.published_dir.rglob("*.parquet"))
    target = next(p for p in exports if pl.read_parquet(p).select(pl.col(pl.String)).width)
    frame = pl.read_parquet(target)
    column = frame.select(pl.col(pl.String)).columns[0]
    frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit(f"call {PLANTED_PHONE}"))
        .otherwise(pl.col(column))
        .alias(column)
    ).write_parquet(target)

    report = run_audit(home)

    [finding] = report.findings
    assert (finding.location, finding.where, finding.kind, finding.count) == (
        str(target.relative_to(home.home)),
        column,
        "phone",
        1,
    )
    assert PLANTED_PHONE not in report.format() and "7946" not in report.format()


def test_raw_client_ref_of_a_landing_file_is_found_in_a_json_payload(home):
    """A name-style ref is no e-mail, phone or URL: only the landing files make it findable."""
    ref = next(r for r in raw_client_refs(home.landing_dir) if " " in r and "@" not in r)
    con = duckdb.connect(str(home.warehouse_path))
    con.execute(
        "UPDATE eventstore.events SET payload = json_object('notes', ?) WHERE position = 7",
        [f"Spoke to {ref} again"],
    )
    con.close()

    report = run_audit(home)

    assert [(f.location, f.where, f.kind, f.count) for f in report.findings] == [
        ("warehouse.duckdb", "eventstore.events.payload", "client_ref", 1)
    ]
    assert ref not in report.format()
    assert ref not in json.dumps(report.to_dict())


def test_value_in_an_airflow_task_log_is_found_with_its_line(home):
    log = home.home / "airflow" / "logs" / "dag_id=build_insights" / "run_id=r1" / "attempt=1.log"
    log.parent.mkdir(parents=True)
    log.write_text(
        # A raw U+2028 or U+0085 is no line break: lines are counted at "\n".
        '{"event": "task started\u2028 \x85", "timestamp": "2026-03-02T18:04:00.069709Z"}\n'
        f'{{"event": "row failed: {PLANTED_EMAIL} / {PLANTED_PHONE}"}}\n'
        '{"event": "done in 0:00:01.234567", "snapshot": "20261126T030345069709Z-p4227"}\n',
        encoding="utf-8",
    )

    report = run_audit(home)

    found = {
        (f.kind, f.first_line) for f in report.findings if f.location.endswith("attempt=1.log")
    }
    assert found == {("email", 2), ("phone", 2)}
    assert len(report.findings) == 2


def test_url_in_gx_validation_results_is_found(home):
    results = sorted(home.quality_dir.rglob("*.json"))
    assert results, "no GX results to plant into"
    target = results[0]
    target.write_text(
        target.read_text() + f'\n{{"unexpected_value": "see {PLANTED_URL}"}}\n', encoding="utf-8"
    )

    report = run_audit(home)

    assert kinds_at(report, str(target.relative_to(home.home))) == {"url"}
    assert "linkedin" not in report.format()


def test_value_in_an_airflow_xcom_is_found(home):
    db = home.home / "airflow" / "airflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE xcom (dag_id TEXT, task_id TEXT, key TEXT, value TEXT)")
    con.executemany(
        "INSERT INTO xcom VALUES ('build_insights', ?, 'return_value', ?)",
        [("build", '{"events": 4227}'), ("publish", json.dumps({"owner": PLANTED_EMAIL}))],
    )
    con.commit()
    con.close()

    report = run_audit(home)

    [finding] = report.findings
    assert (finding.location, finding.where, finding.kind, finding.first_line) == (
        "airflow/airflow.db",
        "xcom.value",
        "email",
        2,
    )
    assert report.scanned["xcom_rows"] == 2


@pytest.mark.parametrize("form", ["text", "hex", "base64"])
def test_the_key_planted_in_a_snapshot_is_found_and_never_quoted(home, form):
    key = TEST_KEY.encode()
    value = {"text": TEST_KEY, "hex": key.hex(), "base64": base64.b64encode(key).decode()}[form]
    snapshot = snapshot_databases(home)[-1]
    column = plant_in_duckdb(snapshot, value)

    report = run_audit(home)

    assert [(f.where, f.kind) for f in report.findings] == [(column, "secret_key")]
    text = report.format() + json.dumps(report.to_dict())
    assert value not in text and TEST_KEY not in text and value[:12] not in text


def test_the_dashboards_access_log_is_skipped_and_the_rest_of_the_home_is_scanned(settings):
    """The access log names who signed in, by e-mail, by design (docs/access.md): not an
    output to audit. A file beside it with the same e-mail is still found."""
    log = settings.access_log_dir / "access-2026-11.jsonl"
    log.parent.mkdir()
    entry = {"identity": PLANTED_EMAIL, "role": "coach", "event": "sign_in"}
    log.write_text(json.dumps(entry) + "\n")
    elsewhere = settings.home / "exports" / "access-2026-11.jsonl"
    elsewhere.parent.mkdir()
    elsewhere.write_text(json.dumps(entry) + "\n")

    scanned = [path for _, path in audit_locations(settings)]
    assert elsewhere in scanned and log not in scanned
    report = run_audit(settings, needles=Needles())
    assert [(f.location, f.kind) for f in report.findings] == [
        ("exports/access-2026-11.jsonl", "email")
    ]


# --------------------------------------------------------------------------- the DAG task


def test_audit_task_returns_counts_only_and_raises_with_a_redacted_report(home):
    summary = audit_pii(home)
    assert summary["clean"] is True and summary["findings"] == 0
    assert summary["values_by_kind"] == dict.fromkeys(
        ("email", "phone", "url", "client_ref", "secret_key"), 0
    )
    assert summary["scanned"]["values"] > 50_000
    json.dumps(summary)  # travels as an XCom

    plant_in_duckdb(home.warehouse_path, f"reach me at {PLANTED_EMAIL}", schema="ingest")
    with pytest.raises(PiiFound) as caught:
        audit_pii(home)
    assert "email" in str(caught.value) and "warehouse.duckdb" in str(caught.value)
    assert PLANTED_EMAIL not in str(caught.value)
    # A finding outside the snapshot leaves the snapshot alone.
    assert "withdrawn" not in str(caught.value)
    assert current_snapshot(home.published_dir) is not None


def test_a_current_snapshot_with_a_finding_is_withdrawn(home):
    from pipelines.app.tasks import publish_snapshot

    older = current_snapshot(home.published_dir)
    newer = Path(publish_snapshot(home)["path"])
    assert current_snapshot(home.published_dir) == newer
    plant_in_duckdb(newer / "research.duckdb", f"reach me at {PLANTED_EMAIL}")
    with pytest.raises(PiiFound) as caught:
        audit_pii(home)
    assert f"snapshot {newer.name} withdrawn" in str(caught.value)
    # Readers are back on the older (clean) snapshot, and the leaking one is gone.
    assert current_snapshot(home.published_dir) == older
    assert not newer.exists()
    assert audit_pii(home)["clean"] is True


def test_a_locked_warehouse_means_the_audit_cannot_run(home):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
            " sys.stdin.read()",
            str(home.warehouse_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(AuditError, match="open for writing"):
            run_audit(home)
        result = CliRunner().invoke(main, ["--home", str(home.home), "audit"])
        assert result.exit_code == 2
        assert "cannot run" in result.output
    finally:
        holder.communicate("", timeout=30)
    assert CliRunner().invoke(main, ["--home", str(home.home), "audit"]).exit_code == 0


# --------------------------------------------------------------------------- the rules


NOT_PII = [
    "2026-03-02T18:04:00Z",
    "2026-03-02 18:04:00.069709+00:00",
    "recorded 2026-03-02T18:04:00.123456+01:00 in 0:00:01.234567",
    "00990adeec8c2803be31c2a7a570c319",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "a5a5f00d-1234-5678-9abc-def012345678 00000000-0123-4567-8901-000000000000",
    "published/snapshots/20261126T030345069709Z-p4227/research.duckdb",
    "v1.24.0 apache-airflow==3.3.2 duckdb 2.0.1",
    "SC-DEB-0012345 NS-OUT-0123456 int-77 d-1 cl_0a1b2c3d4e 2025-000123",
    "p = 0.0123456789, q = 1.2345678e-05, rows 2094934 in 198.5 s",
    "[EMAIL] [PHONE] [URL] [NAME] [CLIENT] [INTERVIEW]",
    "ModuleNotFoundError in pandas.io via airflow.sdk.io",
    '<script src="https://cdn.jsdelivr.net/npm/vega@5.1.2/build/vega.min.js"></script>',
    "docs at https://docs.greatexpectations.io/docs/ and http://localhost:8080/dags",
    "file:///sealdeal/published/current sqlite:////tmp/h/airflow/airflow.db",
    "salary $120,000-$140,000 in Q3 2026, rated 4/5 after 45 min",
    "2025-05-17_north-star_b01.jsonl; Node.js and setup.py; works at acme.io",
]

PII = {
    "email": ["mail jane.doe@example.com", "Tom@Acme.IO", "o'neil+cv@sub.example.co.uk"],
    "phone": [
        "+1 (415) 555-0132",
        "415.555.0132",
        "call 415-555-0132 today",
        "07700 900123",
        "(020) 7946 0958",
        "+44 20 7946 0958",
        "0044 20 7946 0958",
        "4155550132",
        "+14155550132",
        "01 42 68 53 00",
        "on 2026-03-02 call 617 555 0123",
    ],
    "url": [
        "https://www.linkedin.com/in/jane-doe",
        "www.acme.io/careers",
        "bit.ly/3xYz",
        "linkedin.com/in/jane",
        "https://acme.com",
        "ftp://files.example.org/cv.pdf",
    ],
}


def test_identifiers_timestamps_hashes_and_tool_output_are_not_findings():
    found = scan_texts(NOT_PII)
    assert {t: k for t, k in zip(NOT_PII, found, strict=True) if k} == {}


@pytest.mark.parametrize(("kind", "text"), [(k, t) for k, ts in PII.items() for t in ts])
def test_contact_data_is_found(kind, text):
    assert kind in scan_texts([text])[0]


def test_known_refs_and_key_forms_are_found_as_substrings():
    needles = Needles(client_refs=("Jane Q. Roe", "C000123"), secrets=("s3cret-key-0001",))
    found = scan_texts(
        ["met Jane Q. Roe", "id C000123.", "k=s3cret-key-0001", "jane q. roe", "C00012"], needles
    )
    assert found == [{"client_ref"}, {"client_ref"}, {"secret_key"}, set(), set()]


def test_a_redacted_sample_is_no_finding_itself():
    """A failed audit's report lands in the task log: it must not fail the next audit."""
    samples = [redact(t, kind) for kind, texts in PII.items() for t in texts]
    samples += [redact("Jane Q. Roe", "client_ref"), redact(TEST_KEY, "secret_key")]
    assert scan_texts(samples, Needles(client_refs=("Jane Q. Roe",))) == [set()] * len(samples)
    assert redact("jane.doe@example.com", "email") == "jxxx.xxx(at)xxxxxxx.xxx"
    assert TEST_KEY[:4] not in redact(TEST_KEY, "secret_key")


@pytest.mark.parametrize(
    ("ref", "searched"),
    [
        ("Jane Doe", True),
        ("C000123", True),
        ("jane@x.io", True),
        ("cl_1a3ea71dcf", True),
        ("Bob", False),  # too short: would match inside ordinary words
        ("unknown", False),  # a word, no digit, @ or space
        ("4d29b0f049e6", False),  # lower-case hex: would match inside pseudonyms
        ("20240117", False),
    ],
)
def test_only_distinctive_refs_are_searched(ref, searched):
    assert distinctive_ref(ref) is searched


def test_known_refs_come_from_recent_landing_files_only(audited, tmp_path):
    recent = load_needles(audited)
    assert len(recent.client_refs) > 100 and recent.landing_files >= 4
    assert all(distinctive_ref(r) for r in recent.client_refs)
    # emails, names and opaque ids are all among them
    assert any("@" in r for r in recent.client_refs) and any(" " in r for r in recent.client_refs)

    old = Settings(home=tmp_path / "old")
    shutil.copytree(audited.home, old.home, symlinks=True)
    long_ago = time.time() - 400 * 86400
    for path in old.landing_dir.rglob("*"):
        os.utime(path, (long_ago, long_ago))
    assert load_needles(old).client_refs == ()
    assert load_needles(old, ref_days=None).client_refs == recent.client_refs
