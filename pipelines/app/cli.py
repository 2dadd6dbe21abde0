"""`sealdeal`: the command line of every SealDeal pipeline, runnable without a scheduler.

The group lives here; the commands, grouped by what they do, in the commands_* modules.
"""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.app import commands_airflow, commands_pipeline, commands_query, commands_research
from pipelines.app.cli_support import SealDealGroup
from pipelines.app.commands_refresh import refresh
from pipelines.core.settings import Settings


@click.group(cls=SealDealGroup)
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


for command in (
    commands_pipeline.init,
    commands_pipeline.generate,
    commands_pipeline.ingest,
    commands_pipeline.build,
    commands_pipeline.publish,
    refresh,
    commands_pipeline.erase,
    commands_query.sql,
    commands_query.docs,
    commands_query.audit,
    commands_query.serve,
    commands_airflow.airflow,
    commands_airflow.demo,
    commands_query.status,
    commands_research.calibrate,
    commands_research.bench,
):
    main.add_command(command)


if __name__ == "__main__":
    main()
