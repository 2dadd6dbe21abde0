"""Entry points the Airflow tasks call: one function per task, plain Python, no Airflow import.

Each takes and returns only small JSON-able values (they travel as XComs): paths and counts,
never records, pseudonyms or keys.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.core.settings import Settings, load_secret_key
from pipelines.ingest.load import FileHeld, FileReport, already_ingested, landing_deliveries
from pipelines.ingest.staging import commit_staged, stage_for_commit, sweep_staging
from pipelines.ingest.validate import RecordValidator
from pipelines.landing.files import file_hash
from pipelines.privacy.anonymise import stored_name
from warehouse.store import EventStore


def new_landing_files(settings: Settings | None = None) -> list[str]:
    """Landing files whose content is not in the manifest yet, in arrival order; also clears
    staged files no running ingest owns."""
    settings = settings or Settings.from_env()
    settings.ensure_dirs()
    with EventStore(settings.warehouse_path) as store:
        sweep_staging(settings)
        return [
            str(d.path)
            for d in landing_deliveries([settings.landing_dir], settings)
            if not already_ingested(store.con, file_hash(d.path, d.zone))
        ]


def prepare_landing_file(path: str, settings: Settings | None = None) -> dict:
    """Parse, validate, anonymise and stage one file for the commit; never opens DuckDB, so it
    runs on any worker, several at once."""
    settings = settings or Settings.from_env()
    settings.ensure_dirs()  # this worker's view of SEALDEAL_HOME may have no staging/ yet
    (delivery,) = landing_deliveries([Path(path)], settings)
    prepared = stage_for_commit(
        delivery,
        master_key=load_secret_key(settings),
        validator=RecordValidator(settings.quality_dir),
        settings=settings,
    )
    report = prepared.report
    return {
        "file": report.file,
        "zone": report.zone,
        "records": report.records,
        "quarantined": report.quarantined,
        "held": prepared.held is not None,
    }


def commit_landing_files(paths: list[str], settings: Settings | None = None) -> dict:
    """Append the staged files in file order (the single writer); what each did, and the files
    left waiting because one before them was not prepared."""
    settings = settings or Settings.from_env()
    reports, waiting = commit_staged(
        [Path(p) for p in paths], master_key=load_secret_key(settings), settings=settings
    )
    return {
        "files": [file_summary(r) for r in reports],
        "waiting": [stored_name(p) for p in waiting],
    }


def file_summary(report: FileReport) -> dict:
    return {
        "file": report.file,
        "zone": report.zone,
        "status": report.status,
        "reason": report.reason,
        "records": report.records,
        "events_appended": report.events_appended,
        "duplicates": report.duplicates,
        "conflicts": report.conflicts,
        "quarantined": report.quarantined,
        "misdelivered": report.misdelivered,
        "quarantine_reasons": dict(report.quarantine_reasons),
    }


def all_files_ingested(result: dict) -> int:
    """The events appended; raises FileHeld naming every file held or left waiting."""
    problems = [
        f"{f['file']}: held: {f['reason']}" for f in result["files"] if f["status"] == "held"
    ]
    if result["waiting"]:
        problems.append(
            f"{len(result['waiting'])} file(s) not prepared, left for the next run: "
            + ", ".join(result["waiting"])
        )
    if problems:
        raise FileHeld("; ".join(problems))
    return sum(f["events_appended"] for f in result["files"])


def build_quality_docs(settings: Settings | None = None) -> str | None:
    settings = settings or Settings.from_env()
    docs = RecordValidator(settings.quality_dir).build_docs()
    return str(docs) if docs else None


def event_log_position(settings: Settings | None = None) -> int:
    settings = settings or Settings.from_env()
    with EventStore(settings.warehouse_path) as store:
        return store.max_position()


def build_projections(settings: Settings | None = None, full: bool = False) -> dict:
    from pipelines.insights.build import build

    report = build(settings or Settings.from_env(), full=full)
    return {
        "from_position": report.from_position,
        "to_position": report.to_position,
        "events": report.events,
        "seconds": round(report.seconds, 3),
        "rows": report.rows,
    }


def check_marts(settings: Settings | None = None) -> int:
    """GX checks on the marts; raises MartCheckFailed (nothing gets published) when one fails."""
    from pipelines.insights.mart_checks import check_marts as run_checks

    settings = settings or Settings.from_env()
    with EventStore(settings.warehouse_path) as store:
        return len(run_checks(store.con, settings.quality_dir / "marts"))


def publish_snapshot(settings: Settings | None = None) -> dict:
    from pipelines.release.publishing import publish_snapshot as publish

    return publish(settings or Settings.from_env())


def audit_pii(settings: Settings | None = None) -> dict:
    """The PII audit of every output (pipelines/privacy/audit.py), with this Airflow's logs and
    XComs.

    Returns counts only (XCom-safe). Raises PiiFound, whose message is the redacted report, when
    anything is found, so that the DAG run fails; a current snapshot with a finding in it is
    withdrawn first, so that readers never keep seeing it.
    """
    import os

    from pipelines.privacy.audit import PiiFound, run_audit
    from warehouse.publish import current_snapshot, withdraw_current

    settings = settings or Settings.from_env()
    airflow_home = os.environ.get("AIRFLOW_HOME")
    report = run_audit(
        settings,
        airflow_home=Path(airflow_home) if airflow_home else None,
        airflow_db=os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"),
    )
    if not report.clean:
        current = current_snapshot(settings.published_dir)
        inside = current and str(current.relative_to(settings.home))
        withdrawn = None
        if inside and any(f.location.startswith(inside + "/") for f in report.findings):
            withdrawn = withdraw_current(settings.published_dir)
        note = (
            f"\nsnapshot {withdrawn} withdrawn: `current` no longer points at it"
            if withdrawn
            else ""
        )
        raise PiiFound(report.format() + note)
    return report.summary()
