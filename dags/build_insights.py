"""
### Build insights

Scheduled on the event-log Asset that `ingest_debriefs` updates: whenever new events may have
arrived, bring the projections and marts up to date and publish them.

1. **build** — incremental projections (`staging` → `intermediate` → `marts`), each advancing
   its tracked log position in the same transaction as its rows.
2. **check_marts** — Great Expectations on every mart (unique keys, counts ≥ 0, rates and
   p/q-values in [0, 1], every interval contains its estimate, q ≥ p). A failure stops here:
   nothing unchecked is ever published.
3. **publish** — an immutable DuckDB snapshot of the marts plus Parquet, swapped in atomically as
   the `current` snapshot under `published/`; updates the published-snapshot Asset.
4. **audit_pii** — scans every text column of the warehouse and of every snapshot, every Parquet
   export, the GX results and Data Docs, the Airflow task logs and XComs for e-mail addresses,
   phone numbers, URLs, the raw `client_ref`s of recent landing files and the pseudonymisation
   key (`sealdeal audit`). Any finding fails the run, with a redacted report of where; a finding
   inside the snapshot just published withdraws it (`current` goes back to the previous one).
   Its XCom holds counts only.

All four open the warehouse, so they share the one-slot DuckDB writer pool with ingestion (the
audit reads it, and a reader cannot open a file a writer holds). The logic lives in
`pipelines/`; this file only wires.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

from pipelines.app.airflow_env import DEFAULT_ARGS, EVENT_LOG_ASSET, INSIGHTS_ASSET, WRITER_POOL

default_args = {**DEFAULT_ARGS, "pool": WRITER_POOL}


@dag(
    dag_id="build_insights",
    schedule=[Asset(**EVENT_LOG_ASSET)],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    doc_md=__doc__,
    tags=["sealdeal", "insights"],
)
def build_insights():
    @task
    def build() -> dict:
        from pipelines.app.tasks import build_projections

        return build_projections()

    @task
    def check_marts() -> int:
        from pipelines.app.tasks import check_marts as run

        return run()

    @task(outlets=[Asset(**INSIGHTS_ASSET)])
    def publish() -> dict:
        from pipelines.app.tasks import publish_snapshot

        return publish_snapshot()

    @task
    def audit_pii() -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from pipelines.app.tasks import audit_pii as run
        from pipelines.privacy.audit import PiiFound

        try:
            return run()
        except PiiFound as exc:  # retrying finds the same data: fail now, with the report
            raise AirflowFailException(f"personal data in the outputs:\n{exc}") from exc

    build() >> check_marts() >> publish() >> audit_pii()


build_insights()
