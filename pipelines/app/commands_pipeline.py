"""The pipeline's steps, one command each: init, generate, ingest, build, publish, erase."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from pipelines.app.cli_support import settings_of, waits_for_the_warehouse
from pipelines.core.settings import Settings, load_secret_key


@click.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create SEALDEAL_HOME, its folders and (if none is configured) the pseudonymisation key."""
    settings = settings_of(ctx)
    settings.ensure_dirs()
    load_secret_key(settings, create=True)
    click.echo(f"SealDeal home ready: {settings.home}")


@click.command()
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--interviews", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("--firms", type=click.IntRange(min=1), default=3, show_default=True)
def generate(out: Path, interviews: int, seed: int, fmt: str, firms: int) -> None:
    """Write synthetic landing files (and truth.json with the planted effects) to OUT.

    More than 1,000,000 interviews are simulated in parts of at most 1M, to bound memory:
    each later part has firms of its own (<firm>-p2, <firm>-p3, ...)."""
    from pipelines.synthetic.generate import generate as run

    summary = run(out, interviews=interviews, seed=seed, fmt=fmt, firms=firms)
    click.echo(json.dumps(summary, indent=2, default=str))


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option(
    "--firm",
    help="The firm that delivered these files (else each file's zone: the first folder below "
    "the landing folder, or below a folder given here, is the firm's id).",
)
@waits_for_the_warehouse
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[Path, ...], progress: bool, firm: str | None) -> None:
    """Ingest landing files or folders into the event store (the DAG's code, no scheduler).

    Records naming another firm than the delivering one are quarantined; a file in no firm's
    zone is held."""
    from tqdm import tqdm

    from pipelines.ingest.parallel import ingest_in_processes

    settings = settings_of(ctx)
    key = load_secret_key(settings, create=True)
    bar = tqdm(unit=" records", disable=not progress, file=sys.stderr)
    summary = ingest_in_processes(
        list(paths),
        settings,
        key,
        firm=firm,
        on_file=lambda p: bar.set_description(p.name),
        on_records=bar.update,
    )
    bar.close()
    print_ingest_summary(summary)
    if summary.held:
        sys.exit(1)


def print_ingest_summary(summary) -> None:
    totals = summary.totals()
    click.echo(
        "files: {files} ({files_skipped} already ingested, {files_held} held)\n"
        "records: {records}\nevents appended: {events_appended}\n"
        "duplicates: {duplicates}\nconflicts: {conflicts}\nquarantined: {quarantined}".format(
            **totals
        )
    )
    reasons = summary.quarantine_reasons()
    if reasons:
        click.echo("quarantined by reason:")
        for reason, count in reasons.most_common():
            click.echo(f"  {count:>7}  {reason}")
    for report in summary.held:
        click.echo(f"HELD {report.file}: {report.reason}", err=True)


def published_behind(settings: Settings, position: int) -> str | None:
    """A line saying that the published snapshot lags the marts built up to `position` (None
    when it is current): readers see only what is published, so a build alone changes nothing
    for them."""
    from warehouse.publish import published_snapshot

    advice = "run `sealdeal publish` (or `sealdeal refresh`)"
    snapshot = published_snapshot(settings.published_dir)
    if snapshot is None:
        return f"no snapshot is published yet, the marts are at event {position}: {advice}"
    snapshot_id, published = snapshot
    if published >= position:
        return None
    return (
        f"published snapshot {snapshot_id} is at event {published}, the marts at {position}: "
        f"{advice}"
    )


@click.command()
@click.option("--full", is_flag=True, help="Rebuild every projection from position 0.")
@click.option(
    "--as-of",
    "as_of",
    metavar="POSITION|TIMESTAMP",
    help="Reproduce the marts as they were at that point of the log, into a separate file.",
)
@click.option("--out", type=click.Path(path_type=Path), help="Where --as-of writes its database.")
@waits_for_the_warehouse
@click.pass_context
def build(ctx: click.Context, full: bool, as_of: str | None, out: Path | None) -> None:
    """Bring projections and marts up to date with the event log (incremental by default)."""
    from pipelines.insights.build import build as run_build
    from pipelines.insights.build import build_as_of

    settings = settings_of(ctx)
    report = build_as_of(settings, as_of, out) if as_of else run_build(settings, full=full)
    click.echo(
        f"events {report.from_position + 1}..{report.to_position} ({report.events} new), "
        f"{report.interviews_recomputed} interviews recomputed in {report.seconds:.2f}s "
        f"-> {report.database}"
    )
    for table, n in report.rows.items():
        click.echo(f"  marts.{table:<24} {n:>10} rows")
    if not as_of and (behind := published_behind(settings, report.to_position)):
        click.echo(behind)  # an --as-of build is a separate file, never published


def checked_marts(settings: Settings) -> int:
    """The GX mart checks (how many ran); a failure is one line saying nothing was published."""
    from pipelines.app.tasks import check_marts
    from pipelines.insights.mart_checks import MartCheckFailed

    try:
        return check_marts(settings)
    except MartCheckFailed as exc:
        raise click.ClickException(f"{exc}; nothing was published") from exc


@click.command()
@waits_for_the_warehouse
@click.pass_context
def publish(ctx: click.Context) -> None:
    """Check the marts with GX and publish them as a new read-only snapshot."""
    from pipelines.app.tasks import publish_snapshot

    settings = settings_of(ctx)
    checked_marts(settings)
    snap = publish_snapshot(settings)
    click.echo(f"published {snap['snapshot_id']} -> {snap['path']}")


@click.command()
@click.option("--firm", "firm_id", required=True, help="The client's coaching firm.")
@click.option(
    "--client", "client_ref", required=True, help="The firm's client_ref (used, never stored)."
)
@click.option("--no-publish", is_flag=True, help="Erase, but leave rebuild and publish to the DAG.")
@waits_for_the_warehouse
@click.pass_context
def erase(ctx: click.Context, firm_id: str, client_ref: str, no_publish: bool) -> None:
    """Forget a client everywhere: events, projections, raw files, marts, snapshots."""
    from pipelines.app.tasks import publish_snapshot
    from pipelines.insights.build import build as run_build
    from pipelines.privacy.erasure import erase_client

    settings = settings_of(ctx)
    report = erase_client(settings, load_secret_key(settings), firm_id, client_ref)
    click.echo(
        f"erased {report.events_erased} events (the erasure itself included), "
        f"{sum(report.rows_deleted.values())} projection rows, "
        f"{report.records_removed_from_files} records in {len(report.files_redacted)} landing "
        f"files (their quarantine rows too), {report.as_of_removed} as-of builds"
    )
    if report.events_erased <= 1:
        click.echo("no data of this client was found; later records of it will be refused")
    if not no_publish:
        run_build(settings)
        checked_marts(settings)
        snap = publish_snapshot(settings)
        click.echo(
            f"published {snap['snapshot_id']}; removed "
            f"{snap['snapshots_removed_after_erasure']} older snapshots"
        )
