"""The insights DAG through real Airflow: ingest -> build -> GX mart checks -> publish."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.generate import generate
from warehouse.publish import current_snapshot

pytestmark = pytest.mark.airflow


def test_insights_dag_builds_checks_and_publishes(airflow_dagbag, settings):
    generate(settings.landing_dir / "gen", interviews=1500, seed=3)
    ingest = airflow_dagbag.get_dag("ingest_debriefs").test()
    assert str(ingest.state) == "success"

    run = airflow_dagbag.get_dag("build_insights").test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states == {"build": "success", "check_marts": "success", "publish": "success"}

    snapshot = current_snapshot(settings.published_dir)
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        (position,) = con.execute("SELECT last_event_position FROM meta.snapshot").fetchall()[0]
        n = con.execute("SELECT count(*) FROM marts.fct_interviews").fetchall()[0][0]
        comment = con.execute(
            "SELECT comment FROM duckdb_tables() WHERE table_name = 'tactic_effects'"
        ).fetchall()[0][0]
    finally:
        con.close()
    warehouse = duckdb.connect(str(settings.warehouse_path), read_only=True)
    assert (
        position
        == warehouse.execute("SELECT max(position) FROM eventstore.events").fetchall()[0][0]
    )
    warehouse.close()
    assert n > 1000
    assert "Mantel-Haenszel" in comment


def test_insights_dag_is_scheduled_on_the_event_log(airflow_dagbag):
    condition = airflow_dagbag.get_dag("build_insights").timetable.asset_condition
    assert [asset.name for asset in condition.objects] == ["sealdeal_event_log"]
