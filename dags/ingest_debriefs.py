"""
### Ingest debriefs

Turns landing files (`$SEALDEAL_HOME/landing`, in the format of SealDeal's input contract,
`docs/spec/debrief-export.md`) into anonymised, validated events in the DuckDB event store.

1. **find_new_files** lists landing files whose content hash is not in `ingest.files` yet.
2. **ingest_file** (mapped, one task per file) parses, anonymises, validates with Great
   Expectations and appends the file's events in one transaction; bad records go to
   `ingest.quarantine`. A file that is unusable as a whole is held and its task fails (no
   retries: the file will not change).
3. **build_quality_docs** rebuilds the GX Data Docs in `$SEALDEAL_HOME/quality`.
4. **announce_new_events** marks the event-log Asset as updated, which schedules the insights
   DAG, only when the log holds events the published snapshot does not reflect (new files, an
   erasure, a build that failed before publishing); otherwise it is skipped, and a skipped task
   emits no Asset event.
5. **all_files_ingested** fails the run when any file was held, after the good files are in.

Every task that opens the warehouse takes the single slot of the `sealdeal_duckdb_writer` pool:
DuckDB allows one writing process per file. The logic lives in `pipelines/`; this file only wires.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, dag, task

from pipelines.app.airflow_env import DEFAULT_ARGS, EVENT_LOG_ASSET, WRITER_POOL

EVENT_LOG = Asset(**EVENT_LOG_ASSET)


@dag(
    dag_id="ingest_debriefs",
    schedule=timedelta(minutes=15),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["sealdeal", "ingest"],
)
def ingest_debriefs():
    @task(pool=WRITER_POOL)
    def find_new_files() -> list[str]:
        from pipelines.app.tasks import new_landing_files

        return new_landing_files()

    @task(pool=WRITER_POOL, map_index_template="{{ landing_file }}")
    def ingest_file(path: str) -> dict:
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowFailException

        from pipelines.app.tasks import ingest_landing_file
        from pipelines.ingest.load import FileHeld

        get_current_context()["landing_file"] = path.rsplit("/", 1)[-1]
        try:
            return ingest_landing_file(path)
        except FileHeld as exc:
            raise AirflowFailException(f"file held: {exc}") from exc

    @task(pool=WRITER_POOL, trigger_rule="all_done")
    def build_quality_docs() -> str | None:
        from pipelines.app.tasks import build_quality_docs

        return build_quality_docs()

    @task(pool=WRITER_POOL, trigger_rule="all_done", outlets=[EVENT_LOG])
    def announce_new_events() -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from pipelines.app.announce import unpublished_events

        positions = unpublished_events()
        if positions["event_log_position"] <= positions["published_position"]:
            raise AirflowSkipException(f"nothing the published snapshot lacks: {positions}")
        return positions

    @task
    def all_files_ingested(reports: list[dict]) -> int:
        # One slice request: iterating asks for item after item until one is missing, which
        # Airflow's client logs as "[error] XCom not found" although nothing went wrong.
        return sum(r["events_appended"] for r in reports[:])

    reports = ingest_file.expand(path=find_new_files())
    reports >> build_quality_docs() >> announce_new_events()
    all_files_ingested(reports)


ingest_debriefs()
