"""`sealdeal`: the command line of every SealDeal pipeline, runnable without a scheduler."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from pipelines.core.settings import WAIT_DEFAULT, WAIT_ENV, Settings, load_secret_key


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj


class _Group(click.Group):
    """Key problems and a busy warehouse are the operator's to handle: say so in one line, not
    a traceback."""

    def invoke(self, ctx: click.Context):
        from pipelines.core.settings import KeyMismatchError, MissingKeyError
        from warehouse.lock import WarehouseBusy

        try:
            return super().invoke(ctx)
        except (MissingKeyError, KeyMismatchError) as exc:
            raise click.ClickException(str(exc)) from exc
        except WarehouseBusy as exc:
            raise click.ClickException(
                f"the warehouse is busy: held by {exc.holder}; gave up after {exc.waited:g} s "
                "(try again when it has finished, or wait longer with --wait SECONDS)"
            ) from exc


def _waits_for_the_warehouse(command):
    """--wait SECONDS on a command that writes to the warehouse: DuckDB allows one writing
    process, so it waits (saying for whom) while an Airflow task or another shell holds it."""

    def configure(ctx: click.Context, _param: click.Parameter, seconds: float) -> float:
        from warehouse.lock import LockWait, set_lock_wait

        def tell(holder: str) -> None:
            click.echo(
                f"waiting for the warehouse: held by {holder} (up to {seconds:g} s)", err=True
            )

        previous = set_lock_wait(LockWait(seconds, on_wait=tell, name=f"sealdeal {ctx.info_name}"))
        ctx.call_on_close(lambda: set_lock_wait(previous))  # in-process callers (tests) go on
        return seconds

    return click.option(
        "--wait",
        type=click.FloatRange(min=0),
        default=WAIT_DEFAULT,
        envvar=WAIT_ENV,
        show_default=True,
        metavar="SECONDS",
        expose_value=False,
        callback=configure,
        help=f"How long to wait while another process holds the warehouse (env {WAIT_ENV}).",
    )(command)


@click.group(cls=_Group)
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    envvar="SEALDEAL_HOME",
    default="data",
    show_default=True,
    help="Where SealDeal keeps all its state (env SEALDEAL_HOME).",
)
@click.pass_context
def main(ctx: click.Context, home: Path) -> None:
    """SealDeal: which interview tactics seal the deal."""
    ctx.obj = Settings.from_env(home)


@main.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create SEALDEAL_HOME, its folders and (if none is configured) the pseudonymisation key."""
    settings = _settings(ctx)
    settings.ensure_dirs()
    load_secret_key(settings, create=True)
    click.echo(f"SealDeal home ready: {settings.home}")


@main.command()
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--interviews", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("--firms", type=click.IntRange(min=1), default=3, show_default=True)
def generate(out: Path, interviews: int, seed: int, fmt: str, firms: int) -> None:
    """Write synthetic landing files (and truth.json with the planted effects) to OUT."""
    from pipelines.synthetic.generate import generate as run

    summary = run(out, interviews=interviews, seed=seed, fmt=fmt, firms=firms)
    click.echo(json.dumps(summary, indent=2, default=str))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@_waits_for_the_warehouse
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[Path, ...], progress: bool) -> None:
    """Ingest landing files or folders into the event store (the DAG's code, no scheduler)."""
    from tqdm import tqdm

    from pipelines.ingest.load import ingest_paths

    settings = _settings(ctx)
    key = load_secret_key(settings, create=True)
    bar = tqdm(unit=" records", disable=not progress, file=sys.stderr)
    summary = ingest_paths(
        list(paths),
        settings,
        key,
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


@main.command()
@click.option("--full", is_flag=True, help="Rebuild every projection from position 0.")
@click.option(
    "--as-of",
    "as_of",
    metavar="POSITION|TIMESTAMP",
    help="Reproduce the marts as they were at that point of the log, into a separate file.",
)
@click.option("--out", type=click.Path(path_type=Path), help="Where --as-of writes its database.")
@_waits_for_the_warehouse
@click.pass_context
def build(ctx: click.Context, full: bool, as_of: str | None, out: Path | None) -> None:
    """Bring projections and marts up to date with the event log (incremental by default)."""
    from pipelines.insights.build import build as run_build
    from pipelines.insights.build import build_as_of

    settings = _settings(ctx)
    report = build_as_of(settings, as_of, out) if as_of else run_build(settings, full=full)
    click.echo(
        f"events {report.from_position + 1}..{report.to_position} ({report.events} new), "
        f"{report.interviews_recomputed} interviews recomputed in {report.seconds:.2f}s "
        f"-> {report.database}"
    )
    for table, n in report.rows.items():
        click.echo(f"  marts.{table:<24} {n:>10} rows")


@main.command()
@_waits_for_the_warehouse
@click.pass_context
def publish(ctx: click.Context) -> None:
    """Check the marts with GX and publish them as a new read-only snapshot."""
    from pipelines.app.tasks import check_marts, publish_snapshot

    settings = _settings(ctx)
    check_marts(settings)
    snap = publish_snapshot(settings)
    click.echo(f"published {snap['snapshot_id']} -> {snap['path']}")


@main.command()
@click.option("--firm", "firm_id", required=True, help="The client's coaching firm.")
@click.option(
    "--client", "client_ref", required=True, help="The firm's client_ref (used, never stored)."
)
@click.option("--no-publish", is_flag=True, help="Erase, but leave rebuild and publish to the DAG.")
@_waits_for_the_warehouse
@click.pass_context
def erase(ctx: click.Context, firm_id: str, client_ref: str, no_publish: bool) -> None:
    """Forget a client everywhere: events, projections, raw files, marts, snapshots."""
    from pipelines.app.tasks import check_marts, publish_snapshot
    from pipelines.core.settings import load_secret_key
    from pipelines.insights.build import build
    from pipelines.privacy.erasure import erase_client

    settings = _settings(ctx)
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
        build(settings)
        check_marts(settings)
        snap = publish_snapshot(settings)
        click.echo(
            f"published {snap['snapshot_id']}; removed "
            f"{snap['snapshots_removed_after_erasure']} older snapshots"
        )


@main.command()
@click.argument("query")
@click.option("--snapshot", "snapshot_id", help="A snapshot id (default: the current one).")
@click.option(
    "--firm",
    "firm_id",
    help="Firm-scoped session: that firm's row-level tables (detail.*, health.*) and the "
    "cross-firm aggregates, nothing else.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.pass_context
def sql(
    ctx: click.Context, query: str, snapshot_id: str | None, firm_id: str | None, fmt: str
) -> None:
    """Run a read-only SQL query on the published snapshot (writes are refused)."""
    from contextlib import nullcontext

    import duckdb
    import polars as pl

    from warehouse.publish import NoSnapshot, open_snapshot
    from warehouse.scoped import UnknownFirm, firm_session

    published = _settings(ctx).published_dir
    try:
        session = (
            firm_session(published, firm_id, snapshot_id)
            if firm_id
            else nullcontext(open_snapshot(published, snapshot_id))
        )
        with session as con:
            try:
                frame = con.sql(query).pl()
            finally:
                con.close()
    except (NoSnapshot, UnknownFirm) as exc:
        raise click.ClickException(str(exc)) from exc
    except duckdb.InvalidInputException as exc:
        if "read-only" in str(exc):
            raise click.ClickException(
                "snapshots are read-only: only queries that read (SELECT, DESCRIBE, ...) are "
                "allowed"
            ) from exc
        raise click.ClickException(str(exc)) from exc
    except duckdb.Error as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "csv":
        from warehouse.csv_safe import safe_csv

        click.echo(safe_csv(frame), nl=False)  # formulas in firm-supplied text stay text
    elif fmt == "json":
        click.echo(frame.write_json())
    else:
        with pl.Config(tbl_rows=100, tbl_cols=30, tbl_width_chars=200):
            click.echo(frame)


@main.command()
@click.option("--check", is_flag=True, help="Only check the doc is up to date; exit 1 if stale.")
@click.option(
    "--path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The researchers' doc (default: docs/researchers.md of this checkout).",
)
def docs(check: bool, path: Path | None) -> None:
    """Regenerate the data dictionary in docs/researchers.md from the table/column COMMENTs."""
    from pipelines.release.dictionary import DOC_PATH, is_stale, write_researchers_doc

    path = path or DOC_PATH
    if check:
        if is_stale(path):
            raise click.ClickException(f"{path} is stale: run `sealdeal docs` and commit it")
        click.echo(f"{path} is up to date")
    else:
        changed = write_researchers_doc(path)
        click.echo(f"{path}: {'regenerated' if changed else 'already up to date'}")


@main.command()
@click.option(
    "--json",
    "json_out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the report (redacted, like the printed one) as JSON to this file.",
)
@click.option(
    "--ref-days",
    type=click.IntRange(min=0),
    default=90,
    show_default=True,
    help="Search for the raw client_refs of landing files younger than this (0: all files).",
)
@click.option(
    "--airflow-home",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Airflow home whose task logs and XComs to scan (default: SEALDEAL_HOME/airflow).",
)
@click.pass_context
def audit(ctx: click.Context, json_out: Path | None, ref_days: int, airflow_home: Path | None):
    """Scan every output for e-mails, phones, URLs, raw client_refs and the key.

    Exit code 0: clean; 1: something was found (the report says where, redacted); 2: the audit
    could not run (for example the warehouse is open for writing).
    """
    from pipelines.privacy.audit import AuditError, run_audit

    try:
        report = run_audit(_settings(ctx), airflow_home=airflow_home, ref_days=ref_days or None)
    except AuditError as exc:
        click.echo(f"audit cannot run: {exc}", err=True)
        sys.exit(2)
    click.echo(report.format())
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report.to_dict(), indent=2))
    sys.exit(0 if report.clean else 1)


@main.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@click.option("--firm", help="Show only this firm's clients (cross-firm figures: aggregates only).")
@click.pass_context
def serve(ctx: click.Context, port: int, firm: str | None) -> None:
    """Start the dashboards (Streamlit) on the current published snapshot."""
    import os
    import re

    import dashboards
    from pipelines.core.spec import FIRM_ID_PATTERN

    if firm is not None and not re.fullmatch(FIRM_ID_PATTERN, firm):
        raise click.BadParameter(f"not a firm id: {firm!r}", param_hint="--firm")
    env = {**os.environ, "SEALDEAL_HOME": str(_settings(ctx).home)}
    env.pop("SEALDEAL_FIRM", None)
    if firm:
        env["SEALDEAL_FIRM"] = firm
    app = Path(dashboards.__file__).parent / "app.py"
    argv = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port)]
    argv += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    argv += ["--client.toolbarMode", "viewer"]
    # Streamlit's own table export writes formulas in firm-supplied text as they are; every
    # table's data is offered by the pages' own (formula-safe) CSV downloads instead.
    argv += ["--client.disableDataExport", "true"]
    scope = f" (firm {firm})" if firm else ""
    click.echo(f"SealDeal dashboards on http://localhost:{port}{scope}")
    # Replace this process: Ctrl-C and kill reach Streamlit directly, nothing is left behind.
    os.execve(sys.executable, argv, env)


@main.group()
def airflow() -> None:
    """Airflow on a project-local home (SQLite) under SEALDEAL_HOME."""


@airflow.command("setup")
@click.pass_context
def airflow_setup(ctx: click.Context) -> None:
    """Migrate Airflow's metadata DB and create the DuckDB writer pool (idempotent)."""
    from pipelines.app.airflow_env import setup_airflow

    setup_airflow(_settings(ctx))


@airflow.command("test")
@click.argument("dag_id")
@click.pass_context
def airflow_test(ctx: click.Context, dag_id: str) -> None:
    """Run one DAG to completion with `airflow dags test` (no scheduler needed)."""
    from pipelines.app.airflow_env import run_dag

    sys.exit(run_dag(dag_id, _settings(ctx)))


@airflow.command("standalone")
@click.pass_context
def airflow_standalone(ctx: click.Context) -> None:
    """Start Airflow (UI, scheduler) on the project's DAGs and home, to watch and trigger runs."""
    from pipelines.app.airflow_env import setup_airflow, standalone

    settings = _settings(ctx)
    setup_airflow(settings)
    standalone(settings)


@main.command()
@click.option("--interviews", type=click.IntRange(min=1), default=20_000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.pass_context
def demo(ctx: click.Context, interviews: int, seed: int) -> None:
    """End to end: generate landing files, ingest them and build insights through Airflow."""
    from pipelines.app.airflow_env import run_dag, setup_airflow

    settings = _settings(ctx)
    settings.ensure_dirs()
    load_secret_key(settings, create=True)
    batch = settings.landing_dir / f"demo-seed{seed}"
    if not batch.exists():
        ctx.invoke(generate, out=batch, interviews=interviews, seed=seed, fmt="jsonl", firms=3)
        from pipelines.synthetic.generate import write_messy_example

        # A few broken records, to show quarantine at work.
        write_messy_example(settings.landing_dir / "demo-messy" / "2026-03-03_demo-firm.jsonl")
    setup_airflow(settings)
    for dag_id in ("ingest_debriefs", "build_insights"):
        click.echo(f"running DAG {dag_id} ...")
        if run_dag(dag_id, settings) != 0:
            raise click.ClickException(f"DAG {dag_id} failed; see the log above")
    ctx.invoke(status)


TACTIC_EFFECTS = (
    "tactics (all clients; chance of getting past a round, same client's rounds compared)",
    "SELECT tactic, coalesce(printf('%+.1f pts [%+.1f, %+.1f]%s', 100 * estimate, "
    "100 * ci_low, 100 * ci_high, CASE WHEN is_finding THEN '  finding' ELSE '' END), "
    "'not enough data') FROM marts.tactic_estimates WHERE segment = 'all' "
    "AND estimand = 'advance' AND method = 'within_client' ORDER BY estimate DESC NULLS LAST",
)
WAREHOUSE_STATUS = (
    ("events by type", "SELECT event_type, count(*) FROM eventstore.events GROUP BY 1 ORDER BY 1"),
    ("files by status", "SELECT status, count(*) FROM ingest.files GROUP BY 1 ORDER BY 1"),
    ("quarantined records", "SELECT 'records', count(*) FROM ingest.quarantine"),
    (
        "quarantine reasons",
        "SELECT reason, count(*) FROM ingest.quarantine, unnest(reasons) AS r(reason) "
        "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
    ),
    ("conflicts", "SELECT 'records', count(*) FROM eventstore.conflicts"),
    TACTIC_EFFECTS,
)
# The same questions, as far as a published snapshot answers them (part -> queries).
SNAPSHOT_STATUS = {
    "detail": (
        (
            "files by status",
            "SELECT status, count(*) FROM health.ingest_files GROUP BY 1 ORDER BY 1",
        ),
        (
            "quarantine reasons",
            "SELECT reason, sum(records)::BIGINT FROM health.quarantine_by_reason "
            "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
        ),
    ),
    "research": (TACTIC_EFFECTS,),
}


def _echo_rows(con, queries) -> None:
    import duckdb

    for label, sql in queries:
        click.echo(f"{label}:")
        try:
            rows = con.execute(sql).fetchall()
        except duckdb.CatalogException:
            continue  # not built yet
        for key, value in rows:
            click.echo(f"  {key:<28} {value:>10}")


def _status_from_snapshot(published: Path) -> None:
    from warehouse.publish import NoSnapshot, current_snapshot, open_snapshot

    current = current_snapshot(published)
    try:
        if current is None:
            raise NoSnapshot
        click.echo(f"from the published snapshot {current.name}:")
        for part, queries in SNAPSHOT_STATUS.items():
            con = open_snapshot(published, current.name, part=part)
            try:
                _echo_rows(con, queries)
            finally:
                con.close()
    except NoSnapshot:  # none yet, or pruned by a publish this very moment
        click.echo("no published snapshot to answer from: ask again when the write has finished")


@main.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """What the warehouse holds: events, files, quarantine (while another process writes to
    it: what the published snapshot holds)."""
    from warehouse.lock import LockWait, WarehouseBusy, connect

    settings = _settings(ctx)
    try:
        # A reader never waits: the snapshot answers at once, and says how current it is.
        con = connect(str(settings.warehouse_path), read_only=True, wait=LockWait())
    except WarehouseBusy as exc:
        click.echo(f"a write is in progress: the warehouse is held by {exc.holder}")
        _status_from_snapshot(settings.published_dir)
        return
    try:
        _echo_rows(con, WAREHOUSE_STATUS)
    finally:
        con.close()


@main.command()
@click.option("--replicates", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--interviews", type=click.IntRange(min=500), default=6_000, show_default=True)
@click.option("--firms", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--seed", type=int, default=1000, show_default=True, help="Seed of the first one.")
@click.option(
    "--no-latent-effect",
    is_flag=True,
    help="Switch off the unrecorded client trait's effect on advancing and on referrals.",
)
@click.option("--workers", type=click.IntRange(min=1), help="Processes [default: the cores].")
@click.option(
    "--json",
    "json_out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the summary (and the parameters) as JSON to this file.",
)
def calibrate(
    replicates: int,
    interviews: int,
    firms: int,
    seed: int,
    no_latent_effect: bool,
    workers: int | None,
    json_out: Path | None,
) -> None:
    """Run the estimators on simulated populations with known effects: coverage of the 95%
    intervals and false findings per method (no warehouse needed; docs/methods.md)."""
    from dataclasses import replace

    from pipelines.insights import calibrate as c
    from pipelines.synthetic.generate import Params

    params = Params()
    if no_latent_effect:
        params = replace(params, latent_sd_effect=0.0, referral_latent=0.0)
    result = c.calibrate(
        replicates, interviews=interviews, firms=firms, seed=seed, params=params, workers=workers
    )
    if json_out:
        json_out.write_text(json.dumps(result, indent=1, default=str))
    click.echo(c.format_table(result))
    failures = c.check(result)
    click.echo("within_client: " + ("; ".join(failures) if failures else "every target met"))


@main.command()
@click.option(
    "--interviews",
    type=click.IntRange(min=100),
    default=None,
    help="Interviews to generate [default: 1,000,000; 2,000 with --quick].",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=None,
    help="Runs per figure, the median is reported [default: 3; 2 with --quick].",
)
@click.option("--quick", is_flag=True, help="A small smoke run (CI): 2,000 interviews, 2 repeats.")
@click.option(
    "--json",
    "json_out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write every figure, the machine and the versions as JSON to this file.",
)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the generated data and warehouses here (default: a temporary folder, removed).",
)
def bench(
    interviews: int | None,
    repeats: int | None,
    quick: bool,
    json_out: Path | None,
    workdir: Path | None,
) -> None:
    """Measure ingest, build, dashboards and memory at N interviews against the targets."""
    from pipelines.bench import run as b

    result = b.run_bench(
        interviews or (b.QUICK_INTERVIEWS if quick else b.DEFAULT_INTERVIEWS),
        repeats or (b.QUICK_REPEATS if quick else b.DEFAULT_REPEATS),
        workdir,
        quick=quick,
        log=lambda line: click.echo(line, err=True),
    )
    click.echo(b.format_table(result))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
