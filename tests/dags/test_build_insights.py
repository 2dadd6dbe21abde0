"""The insights DAG through real Airflow: ingest -> build -> GX mart checks -> publish -> audit."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from pathlib import Path

import duckdb
import pytest

from pipelines.app.airflow_env import WRITER_POOL
from pipelines.synthetic.generate import generate
from tests.conftest import TEST_KEY
from tests.samples import DEBRIEF, write_jsonl, zone
from warehouse.publish import snapshot_file

pytestmark = pytest.mark.airflow


def key_forms(key: bytes) -> list[bytes]:
    b64 = base64.b64encode(key)
    return [key, key.hex().encode(), b64, b64.rstrip(b"="), base64.urlsafe_b64encode(key)]


def test_insights_dag_builds_checks_publishes_and_audits(airflow_dagbag, settings):
    generate(settings.landing_dir, interviews=1500, seed=3)  # each firm's files in its zone
    ingest = airflow_dagbag.get_dag("ingest_debriefs").test()
    assert str(ingest.state) == "success"

    run = airflow_dagbag.get_dag("build_insights").test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states == {
        "build": "success",
        "check_marts": "success",
        "publish": "success",
        "audit_pii": "success",
    }
    audit = {
        key: json.loads(value)
        for _, task, key, value in xcoms(Path(os.environ["AIRFLOW_HOME"]), run.run_id)
        if task == "audit_pii"
    }
    assert audit["clean"] is True and audit["findings"] == 0
    assert audit["scanned"]["values"] > 10_000 and audit["scanned"]["client_refs"] > 100

    con = duckdb.connect(str(snapshot_file(settings.published_dir)), read_only=True)
    try:
        (position,) = con.execute("SELECT last_event_position FROM meta.snapshot").fetchall()[0]
        comment = con.execute(
            "SELECT comment FROM duckdb_tables() WHERE table_name = 'tactic_estimates'"
        ).fetchall()[0][0]
    finally:
        con.close()
    detail = duckdb.connect(str(snapshot_file(settings.published_dir, part="firms")), True)
    try:
        n = detail.execute("SELECT count(*) FROM detail.fct_interviews").fetchall()[0][0]
    finally:
        detail.close()
    warehouse = duckdb.connect(str(settings.warehouse_path), read_only=True)
    assert (
        position
        == warehouse.execute("SELECT max(position) FROM eventstore.events").fetchall()[0][0]
    )
    warehouse.close()
    assert n > 1000
    assert "clustered by client" in comment


def test_the_audit_runs_last_after_publish_in_the_writer_pool(airflow_dagbag):
    audit = airflow_dagbag.get_dag("build_insights").get_task("audit_pii")
    assert audit.upstream_task_ids == {"publish"} and not audit.downstream_task_ids
    assert audit.pool == WRITER_POOL  # a reader cannot open the warehouse while a writer holds it


def test_insights_dag_is_scheduled_on_the_event_log(airflow_dagbag):
    condition = airflow_dagbag.get_dag("build_insights").timetable.asset_condition
    assert [asset.name for asset in condition.objects] == ["sealdeal_event_log"]


def xcoms(airflow_home: Path, run_id: str = "%") -> list[tuple[str, str, str, str]]:
    con = sqlite3.connect(f"file:{airflow_home / 'airflow.db'}?mode=ro", uri=True)
    try:
        return con.execute(
            "SELECT dag_id, task_id, key, CAST(value AS TEXT) FROM xcom WHERE run_id LIKE ? "
            "ORDER BY dag_id, task_id",
            [run_id],
        ).fetchall()
    finally:
        con.close()


def test_a_leak_fails_the_run_at_the_audit_and_no_key_or_value_reaches_airflow(
    airflow_dagbag, settings, capfd
):
    """Both DAGs, with a quarantined record, a held file and a planted e-mail in the GX output:
    the audit fails the run, naming where without quoting it; the key reaches no XCom, no file
    of Airflow's home and no output."""
    generate(settings.landing_dir, interviews=300, seed=8)
    write_jsonl(zone(settings) / "messy.jsonl", [DEBRIEF, {**DEBRIEF, "stage": "lunch"}])
    write_jsonl(zone(settings) / "wrong.jsonl", ["not json", "{", "[]"])
    assert str(airflow_dagbag.get_dag("ingest_debriefs").test().state) == "failed"  # held file
    planted = "jane.roe-4821@example.org"
    (settings.quality_dir / "leak.json").write_text(json.dumps({"unexpected": planted}))

    run = airflow_dagbag.get_dag("build_insights").test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    output = capfd.readouterr()
    printed = output.out + output.err

    assert str(run.state) == "failed"
    assert states == {
        "build": "success",
        "check_marts": "success",
        "publish": "success",
        "audit_pii": "failed",
    }
    assert "personal data in the outputs" in printed and "quality/leak.json" in printed
    assert planted not in printed and "jane.roe" not in printed
    airflow_home = Path(os.environ["AIRFLOW_HOME"])
    forms = key_forms(TEST_KEY.encode())
    rows = xcoms(airflow_home)
    assert {task for dag, task, key, value in rows if dag == "build_insights"} >= {"publish"}
    assert not [row for row in rows if any(f.decode() in row[3] for f in forms)]
    files = [p for p in airflow_home.rglob("*") if p.is_file()]
    assert any(p.name == "airflow.db" for p in files)
    for path in files:  # the metadata DB (XComs, task instances), logs, config
        data = path.read_bytes()
        assert not any(f in data for f in forms), path
        assert planted.encode() not in data, path
    assert not any(f.decode() in printed for f in forms)
