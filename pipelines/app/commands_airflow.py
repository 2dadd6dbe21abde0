"""Airflow on a project-local home, and the demo that runs both DAGs through it."""

from __future__ import annotations

import sys

import click

from pipelines.app.cli_support import settings_of
from pipelines.app.commands_pipeline import generate
from pipelines.app.commands_query import status
from pipelines.core.settings import load_secret_key
from pipelines.landing.files import landing_files


@click.group()
def airflow() -> None:
    """Airflow on a project-local home (SQLite) under SEALDEAL_HOME."""


@airflow.command("setup")
@click.pass_context
def airflow_setup(ctx: click.Context) -> None:
    """Migrate Airflow's metadata DB and create the DuckDB writer pool (idempotent)."""
    from pipelines.app.airflow_env import setup_airflow

    setup_airflow(settings_of(ctx))


@airflow.command("users")
@click.pass_context
def airflow_users_command(ctx: click.Context) -> None:
    """The users of Airflow's UI and REST API, their roles, and where their passwords are."""
    import os

    from pipelines.app.airflow_env import airflow_users, write_passwords

    path = write_passwords(settings_of(ctx))
    for name, role in airflow_users(dict(os.environ)).items():
        click.echo(f"{name:<12} {role}")
    click.echo(f"passwords (mode 0600): {path}")


@airflow.command("test")
@click.argument("dag_id")
@click.pass_context
def airflow_test(ctx: click.Context, dag_id: str) -> None:
    """Run one DAG to completion with `airflow dags test` (no scheduler needed)."""
    from pipelines.app.airflow_env import run_dag

    sys.exit(run_dag(dag_id, settings_of(ctx)))


@airflow.command("standalone")
@click.pass_context
def airflow_standalone(ctx: click.Context) -> None:
    """Start Airflow (UI, scheduler) on the project's DAGs and home, to watch and trigger runs."""
    from pipelines.app.airflow_env import setup_airflow, standalone

    settings = settings_of(ctx)
    setup_airflow(settings)
    standalone(settings)


@click.command()
@click.option("--interviews", type=click.IntRange(min=1), default=20_000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.pass_context
def demo(ctx: click.Context, interviews: int, seed: int) -> None:
    """End to end: generate landing files, ingest them and build insights through Airflow."""
    from pipelines.app.airflow_env import run_dag, setup_airflow

    settings = settings_of(ctx)
    settings.ensure_dirs()
    load_secret_key(settings, create=True)
    landing = settings.landing_dir
    if not landing_files([landing]):  # each firm's files in its zone, landing/<firm_id>/
        ctx.invoke(generate, out=landing, interviews=interviews, seed=seed, fmt="jsonl", firms=3)
        from pipelines.synthetic.generate import write_messy_example

        # A few broken records, to show quarantine at work.
        write_messy_example(landing / "demo-firm" / "2026-03-03_demo-firm.jsonl")
    setup_airflow(settings)
    for dag_id in ("ingest_debriefs", "build_insights"):
        click.echo(f"running DAG {dag_id} ...")
        if run_dag(dag_id, settings) != 0:
            raise click.ClickException(f"DAG {dag_id} failed; see the log above")
    ctx.invoke(status)
