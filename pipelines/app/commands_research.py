"""Research tooling without a warehouse: the estimators' calibration and the benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
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


@click.command()
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
@click.option(
    "--pandas/--no-pandas",
    default=True,
    show_default=True,
    help="Run the pandas baselines (leave them out at 10M interviews: they would not fit in "
    "memory); without them, the targets comparing with pandas are not measured.",
)
@click.option(
    "--dashboard-timeout",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    help="Seconds a dashboard run may take (the first load of the snapshot at 10M interviews "
    "takes longer than the default).",
)
def bench(
    interviews: int | None,
    repeats: int | None,
    quick: bool,
    json_out: Path | None,
    workdir: Path | None,
    pandas: bool,
    dashboard_timeout: float,
) -> None:
    """Measure ingest, build, dashboards and memory at N interviews against the targets."""
    from pipelines.bench import run as b

    result = b.run_bench(
        interviews or (b.QUICK_INTERVIEWS if quick else b.DEFAULT_INTERVIEWS),
        repeats or (b.QUICK_REPEATS if quick else b.DEFAULT_REPEATS),
        workdir,
        quick=quick,
        pandas=pandas,
        dashboard_timeout=dashboard_timeout,
        log=lambda line: click.echo(line, err=True),
    )
    click.echo(b.format_table(result))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2))
