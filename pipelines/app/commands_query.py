"""Commands that read: SQL on a snapshot, the warehouse's status, the PII audit, the data
dictionary, the dashboards."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from pipelines.app.cli_support import settings_of


@click.command()
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

    published = settings_of(ctx).published_dir
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
    "firms": (
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


@click.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """What the warehouse holds: events, files, quarantine (while another process writes to
    it: what the published snapshot holds)."""
    from warehouse.lock import LockWait, WarehouseBusy, connect

    settings = settings_of(ctx)
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


@click.command()
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
        report = run_audit(
            settings_of(ctx),
            airflow_home=airflow_home,
            airflow_db=os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"),
            ref_days=ref_days or None,
        )
    except AuditError as exc:
        click.echo(f"audit cannot run: {exc}", err=True)
        sys.exit(2)
    click.echo(report.format())
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report.to_dict(), indent=2))
    sys.exit(0 if report.clean else 1)


@click.command()
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


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@click.option(
    "--address",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on. 0.0.0.0 serves every interface: only with sign-in configured "
    "and TLS in front (docs/access.md).",
)
@click.option(
    "--firm",
    help="Local mode only: show only this firm's clients (cross-firm figures: aggregates only).",
)
@click.pass_context
def serve(ctx: click.Context, port: int, address: str, firm: str | None) -> None:
    """Start the dashboards (Streamlit) on the current published snapshot.

    With SEALDEAL_AUTH_CONFIG set, people sign in with OpenID Connect and see what the access
    table gives their role (docs/access.md); without it, local mode: one user, no sign-in.
    """
    import os
    import re

    import dashboards
    from dashboards import access, access_log
    from pipelines.core.spec import FIRM_ID_PATTERN

    if firm is not None and not re.fullmatch(FIRM_ID_PATTERN, firm):
        raise click.BadParameter(f"not a firm id: {firm!r}", param_hint="--firm")
    home = settings_of(ctx).home
    env = {**os.environ, "SEALDEAL_HOME": str(home)}
    env.pop("SEALDEAL_FIRM", None)
    env.pop(access.ENV, None)
    app = Path(dashboards.__file__).parent / "app.py"
    argv = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port)]
    argv += ["--server.address", address]
    argv += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    argv += ["--client.toolbarMode", "viewer"]
    # Streamlit's own table export writes formulas in firm-supplied text as they are; every
    # table's data is offered by the pages' own (formula-safe) CSV downloads instead.
    argv += ["--client.disableDataExport", "true"]
    auth = os.environ.get(access.ENV)
    if auth:
        if firm:
            raise click.UsageError(
                f"--firm is for local mode: with sign-in ({access.ENV}) each person's firm "
                "comes from the access table"
            )
        config_path = Path(auth).resolve()
        try:
            config = access.load(config_path)  # refuse to start on a table nobody can trust
        except access.AccessConfigError as exc:
            raise click.ClickException(str(exc)) from exc
        env[access.ENV] = str(config_path)
        # Streamlit reads its [auth] table (st.login) from this file, and only from it.
        argv += ["--secrets.files", str(config_path)]
        # The sign-in cookie is read only with XSRF protection on: keep it on.
        argv += ["--server.enableXsrfProtection", "true"]
        removed = access_log.prune(home)
        mode = (
            f"sign-in with OpenID Connect: {len(config.users)} e-mail address(es) and "
            f"{len(config.groups)} group(s) mapped; access log in "
            f"{access_log.log_dir(home)} ({len(removed)} expired file(s) deleted)"
        )
    else:
        if firm:
            env["SEALDEAL_FIRM"] = firm
        mode = "local mode: one user, no sign-in"
    host = "localhost" if address in ("127.0.0.1", "localhost") else address
    scope = f" (firm {firm})" if firm else ""
    click.echo(f"SealDeal dashboards on http://{host}:{port}{scope}; {mode}")
    # Replace this process: Ctrl-C and kill reach Streamlit directly, nothing is left behind.
    os.execve(sys.executable, argv, env)
