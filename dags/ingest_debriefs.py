"""
### Ingest debriefs

Turns landing files (`$SEALDEAL_HOME/landing/<firm_id>/…`, each firm's own zone, in the format of
SealDeal's input contract, `docs/spec/debrief-export.md`) into anonymised, validated events in
the DuckDB event store.

1. **find_new_files** lists landing files whose content hash is not in `ingest.files` yet.
2. **prepare_file** (mapped, one task per file, on any worker, several at once) parses,
   validates with Great Expectations, pseudonymises and scrubs the file and stages its events
   and quarantine rows as Parquet under `$SEALDEAL_HOME/staging` (shared by every worker). It
   never opens DuckDB. Records naming another firm than the file's zone are quarantined; a file
   outside every zone is held.
3. **commit_files** appends the staged files in file order, each in one transaction with its
   quarantine rows and manifest entry; idempotent, so a retry after a crash neither duplicates
   nor loses anything. A file that was not prepared stops it: that file and the later ones wait
   for the next run, keeping the log in arrival order.
4. **build_quality_docs** rebuilds the GX Data Docs in `$SEALDEAL_HOME/quality`.
5. **announce_new_events** marks the event-log Asset as updated, which schedules the insights
   DAG, only when the log holds events the published snapshot does not reflect (new files, an
   erasure, a build that failed before publishing); otherwise it is skipped, and a skipped task
   emits no Asset event.
6. **all_files_ingested** fails the run when any file was held or left waiting, after the good
   files are in.

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

    @task(map_index_template="{{ landing_file }}")
    def prepare_file(path: str) -> dict:
        from pathlib import Path

        from airflow.sdk import get_current_context

        from pipelines.app.tasks import prepare_landing_file
        from pipelines.privacy.anonymise import stored_name

        get_current_context()["landing_file"] = stored_name(Path(path))
        return prepare_landing_file(path)

    @task(pool=WRITER_POOL, trigger_rule="all_done")
    def commit_files(paths: list[str]) -> dict:
        from pipelines.app.tasks import commit_landing_files

        return commit_landing_files(paths)

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
    def all_files_ingested(result: dict) -> int:
        from airflow.sdk.exceptions import AirflowFailException

        from pipelines.app.tasks import all_files_ingested
        from pipelines.ingest.load import FileHeld

        try:
            return all_files_ingested(result)
        except FileHeld as exc:  # no retry: the files will not change by themselves
            raise AirflowFailException(str(exc)) from exc

    paths = find_new_files()
    committed = commit_files(paths)
    prepare_file.expand(path=paths) >> committed
    committed >> build_quality_docs() >> announce_new_events()
    all_files_ingested(committed)


ingest_debriefs()
