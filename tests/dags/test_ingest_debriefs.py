"""The real ingest DAG, run with dag.test() on SQLite-backed Airflow."""

from __future__ import annotations

import pytest

from pipelines.app.airflow_env import EVENT_LOG_ASSET
from tests.samples import DEBRIEF, OUTCOME, debrief, write_csv, write_jsonl, zone
from tests.samples import warehouse_rows as query

pytestmark = pytest.mark.airflow


def run(bag):
    dag = bag.get_dag("ingest_debriefs")
    return dag.test()


def task_states(dag_run) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for ti in dag_run.get_task_instances():
        states.setdefault(ti.task_id, []).append(str(ti.state))
    return states


def test_dag_ingests_mixed_files_and_a_rerun_adds_nothing(airflow_dagbag, settings):
    write_jsonl(
        zone(settings) / "2026-03-01.jsonl",
        [DEBRIEF, OUTCOME, debrief(2, stage="lunch"), "{broken", debrief(3), debrief(4)],
    )
    write_csv(zone(settings) / "2026-03-02.csv", [debrief(5), debrief(6)])

    first = run(airflow_dagbag)
    assert str(first.state) == "success", task_states(first)
    assert task_states(first)["prepare_file"] == ["success", "success"]
    assert task_states(first)["commit_files"] == ["success"]
    assert task_states(first)["all_files_ingested"] == ["success"]
    assert query(settings, "SELECT count(*) FROM eventstore.events") == [(6,)]
    assert query(settings, "SELECT count(*) FROM ingest.quarantine") == [(2,)]
    assert query(settings, "SELECT status, count(*) FROM ingest.files GROUP BY 1") == [
        ("ingested", 2)
    ]
    assert any(settings.quality_dir.rglob("index.html"))

    second = run(airflow_dagbag)
    assert str(second.state) == "success", task_states(second)
    assert query(settings, "SELECT count(*) FROM eventstore.events") == [(6,)]
    assert query(settings, "SELECT count(*) FROM ingest.quarantine") == [(2,)]


def test_dag_fails_loudly_on_a_held_file_after_ingesting_the_good_ones(airflow_dagbag, settings):
    write_jsonl(zone(settings) / "a-good.jsonl", [DEBRIEF, debrief(2)])
    write_jsonl(zone(settings) / "b-wrong.jsonl", ["not json", "{", debrief(3)])
    write_jsonl(settings.landing_dir / "c-loose.jsonl", [debrief(4)])  # in no firm's zone

    dag_run = run(airflow_dagbag)
    states = task_states(dag_run)
    assert str(dag_run.state) == "failed"
    # Preparing a held file is no failure: the commit records it held, then the check fails.
    assert states["prepare_file"] == ["success"] * 3
    assert states["commit_files"] == ["success"]
    assert states["all_files_ingested"] == ["failed"]
    assert states["build_quality_docs"] == ["success"]
    assert query(settings, "SELECT count(*) FROM eventstore.events") == [(2,)]
    held = query(
        settings,
        "SELECT file_name, reason FROM ingest.files WHERE status = 'held' ORDER BY file_name",
    )
    assert [name for name, _ in held] == ["b-wrong.jsonl", "c-loose.jsonl"]
    assert "2 of 3 records are invalid" in held[0][1]
    assert "outside any firm's landing zone" in held[1][1]


def event_log_updates(dag_run) -> list[str]:
    """The tasks of this run that marked the event-log Asset updated (Airflow's asset events)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return list(
            session.scalars(
                select(AssetEvent.source_task_id)
                .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                .where(
                    AssetEvent.source_run_id == dag_run.run_id,
                    AssetModel.name == EVENT_LOG_ASSET["name"],
                )
            )
        )


def test_the_event_log_asset_is_updated_only_when_the_log_has_unpublished_events(
    airflow_dagbag, settings, master_key
):
    from pipelines.app.tasks import build_projections, check_marts, publish_snapshot
    from pipelines.privacy.erasure import erase_client

    write_jsonl(zone(settings) / "2026-03-01.jsonl", [DEBRIEF, OUTCOME])
    first = run(airflow_dagbag)
    assert str(first.state) == "success", task_states(first)
    assert len(event_log_updates(first)) == 1  # new events: build_insights is scheduled

    # What build_insights does with them, then a scheduled run on the unchanged landing zone.
    build_projections(settings)
    check_marts(settings)
    publish_snapshot(settings)
    quiet = run(airflow_dagbag)
    assert str(quiet.state) == "success", task_states(quiet)
    assert event_log_updates(quiet) == []
    assert task_states(quiet)["announce_new_events"] == ["skipped"]

    # `sealdeal erase --no-publish` leaves the rebuild to the DAGs: the next run announces it.
    erase_client(settings, master_key, DEBRIEF["firm_id"], DEBRIEF["client_ref"])
    after_erasure = run(airflow_dagbag)
    assert event_log_updates(after_erasure) == ["announce_new_events"]
