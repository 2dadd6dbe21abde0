"""What every `sealdeal` command shares: the settings, the one-line errors, --wait.

Kept apart from cli.py so that the command modules can use it without importing the module
that imports them (`python -m pipelines.app.cli` runs cli.py as __main__: a command module
importing it back would load a second copy).
"""

from __future__ import annotations

import click

from pipelines.core.settings import WAIT_DEFAULT, WAIT_ENV, Settings


def settings_of(ctx: click.Context) -> Settings:
    return ctx.obj


class SealDealGroup(click.Group):
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


def waits_for_the_warehouse(command):
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
