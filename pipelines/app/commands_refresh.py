"""`sealdeal refresh`: the steps of both DAGs, in their order, without Airflow.

ingest_debriefs then build_insights: ingest every new landing file, rebuild the GX Data Docs,
build, check the marts, publish, audit for PII. Each step calls the function its DAG task
calls (pipelines.app.tasks), so a refresh from a shell and a scheduled run cannot drift apart.
"""

from __future__ import annotations

import sys

import click

from pipelines.app import tasks
from pipelines.app.announce import unpublished_events
from pipelines.app.cli_support import settings_of, waits_for_the_warehouse
from pipelines.app.commands_pipeline import checked_marts
from pipelines.core.settings import Settings, load_secret_key


def ingest_new_files(settings: Settings) -> list[str]:
    """ingest_debriefs' find_new_files, prepare_file per file, commit_files and
    build_quality_docs; returns the files held or left waiting. As in the DAG, a held file does
    not keep the others out."""
    paths = tasks.new_landing_files(settings)
    if not paths:
        click.echo("ingest: no new landing files")
        return []
    for path in paths:
        tasks.prepare_landing_file(path, settings)
    result = tasks.commit_landing_files(paths, settings)
    held = [f for f in result["files"] if f["status"] == "held"]
    for f in held:
        click.echo(f"HELD {f['file']}: {f['reason']}", err=True)
    tasks.build_quality_docs(settings)
    totals = {
        key: sum(f[key] for f in result["files"])
        for key in ("events_appended", "quarantined", "duplicates", "conflicts")
    }
    click.echo(
        f"ingest: {len(paths)} new file(s), {totals['events_appended']} events appended, "
        f"{totals['quarantined']} records quarantined, {totals['duplicates']} duplicates, "
        f"{totals['conflicts']} conflicts" + (f", {len(held)} held" if held else "")
    )
    return [f["file"] for f in held] + result["waiting"]


def something_to_publish(settings: Settings) -> bool:
    """ingest_debriefs' announce_new_events: build and publish only when the event log holds
    events the published snapshot lacks (republishing the same marts would only push older
    snapshots out)."""
    positions = unpublished_events(settings)
    if positions["event_log_position"] > positions["published_position"]:
        return True
    click.echo(
        f"build, check, publish: nothing to do, the published snapshot is at event "
        f"{positions['published_position']}, as is the event log"
    )
    return False


def build_check_publish(settings: Settings) -> None:
    """build_insights' build, check_marts and publish; a failed check publishes nothing."""
    built = tasks.build_projections(settings)
    click.echo(
        f"build: events {built['from_position'] + 1}..{built['to_position']} "
        f"({built['events']} new) in {built['seconds']:.2f}s"
    )
    click.echo(f"check: {checked_marts(settings)} mart checks passed")
    snap = tasks.publish_snapshot(settings)
    click.echo(f"publish: {snap['snapshot_id']}")


def audit(settings: Settings) -> None:
    """build_insights' audit_pii: a finding exits 1 with the redacted report (a current snapshot
    holding it withdrawn first); an audit that cannot run exits 2, as `sealdeal audit` does."""
    from pipelines.privacy.audit import AuditError, PiiFound

    try:
        summary = tasks.audit_pii(settings)
    except AuditError as exc:
        click.echo(f"audit cannot run: {exc}", err=True)
        sys.exit(2)
    except PiiFound as exc:
        click.echo(str(exc), err=True)
        raise click.ClickException("audit: personal data in the outputs (report above)") from exc
    s = summary["scanned"]
    click.echo(
        f"audit: clean ({s['values']:,} text values in {s['duckdb_files']} DuckDB, "
        f"{s['parquet_files']} Parquet and {s['text_files']} text files)"
    )


@click.command()
@waits_for_the_warehouse
@click.pass_context
def refresh(ctx: click.Context) -> None:
    """Ingest new landing files, build, check the marts (GX), publish, audit for PII: both
    DAGs' steps in their order, without Airflow.

    Stops at the first failure: a failed mart check publishes nothing, a PII finding prints the
    redacted report (exit 1). A held landing file does not stop the others (as in the DAGs) but
    makes the exit code 1.
    """
    settings = settings_of(ctx)
    settings.ensure_dirs()
    load_secret_key(settings, create=True)
    held = ingest_new_files(settings)
    if something_to_publish(settings):
        build_check_publish(settings)
    audit(settings)
    if held:
        raise click.ClickException(
            f"{len(held)} landing file(s) held: {', '.join(held)} (the reasons are above; the "
            "other files' events are in)"
        )
