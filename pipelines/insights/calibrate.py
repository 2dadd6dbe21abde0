"""``sealdeal calibrate``: the estimators on many simulated populations whose effects are known.

Each replicate draws a population from the synthetic model (a latent client trait no field
records, co-asked question kinds, hindsight corrections, firms that report differently), turns
its records into ``fct_interviews`` with the real projections (no warehouse, no files), runs
``tactic_estimates`` and ``hypothesis_tests`` on the ``all`` rows, and compares every row with
the planted truth. Reported per table, contrast, estimand and method: coverage of the 95%
intervals, how often a planted null was called a finding (false findings) and a real effect
was (power), the mean bias, and the mean standard error against the spread of the estimates.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from multiprocessing import get_context

import polars as pl

from pipelines.core.events import events_from_records
from pipelines.insights import projections as P
from pipelines.insights.effects import hypothesis_tests, tactic_estimates
from pipelines.privacy.anonymise import with_experience_bands
from pipelines.synthetic.generate import Params, simulate

DEFAULT_INTERVIEWS = 6_000
DEFAULT_FIRMS = 4


def fct_from_records(
    debriefs: pl.DataFrame, outcomes: pl.DataFrame, erasures: pl.DataFrame
) -> pl.LazyFrame:
    """Typed contract records -> ``fct_interviews`` through the real event mapping and
    projections; the firms' refs stand in for the pseudonyms (nothing is stored)."""
    parts = [
        frame.with_columns(pl.lit(kind).alias("record_type"))
        for kind, frame in (("debrief", debriefs), ("outcome", outcomes), ("erasure", erasures))
    ]
    records = (
        pl.concat(parts, how="diagonal_relaxed")
        .with_row_index("source_line", offset=1)
        .with_columns(
            pl.col("client_ref").alias("client_key"),
            pl.col("interview_ref").alias("interview_key"),
            pl.col("application_ref").alias("application_key"),
        )
    )
    events = (
        events_from_records(with_experience_bands(records.lazy()), "simulated")
        .collect()
        .with_row_index("position", offset=1)
        .with_columns(pl.col("position").cast(pl.Int64))
        .lazy()
    )
    interviews = P.int_interviews(P.stg_debriefs(events), P.stg_outcomes(events))
    return P.fct_interviews(interviews, P.stg_erasures(events))


def _truth_of(truth: dict, table: str, cid: str, estimand: str) -> float | None:
    if table == "hypothesis_tests":
        return truth["hypotheses"][cid]["effect"]
    value = truth["effects"].get(estimand, {}).get(cid)
    return None if value is None else float(value)


def _nulls(truth: dict) -> set[str]:
    nulls = truth["true_nulls"]
    return set(nulls.get("tactics", ())) | set(nulls.get("hypotheses", ()))


def replicate(seed: int, interviews: int, firms: int, params: Params) -> list[dict]:
    """Every ``all`` row of both tables on one simulated population, beside its truth."""
    sim = simulate(interviews, seed, firms, params, with_notes=False)
    fct = fct_from_records(sim.debriefs, sim.outcomes, sim.erasures).collect().lazy()
    out = []
    for table, id_column, frame in (
        ("tactic_estimates", "tactic", tactic_estimates(fct, ("all",))),
        ("hypothesis_tests", "hypothesis", hypothesis_tests(fct, ("all",))),
    ):
        for row in frame.collect().iter_rows(named=True):
            cid = row[id_column]
            out.append(
                {
                    "table": table,
                    "contrast": cid,
                    "estimand": row["estimand"],
                    "method": row["method"],
                    "truth": _truth_of(sim.truth, table, cid, row["estimand"]),
                    "is_null": cid in _nulls(sim.truth),
                    "seed": seed,
                    **{k: row[k] for k in ("estimate", "std_error", "ci_low", "ci_high")},
                    "is_finding": row["is_finding"],
                }
            )
    return out


def _run(args: tuple) -> list[dict]:
    return replicate(*args)


def calibrate(
    replicates: int,
    *,
    interviews: int = DEFAULT_INTERVIEWS,
    firms: int = DEFAULT_FIRMS,
    seed: int = 1000,
    params: Params | None = None,
    workers: int | None = None,
) -> dict:
    """Run ``replicates`` populations (seeds seed, seed+1, ...) and summarise."""
    params = params or Params()
    jobs = [(seed + i, interviews, firms, params) for i in range(replicates)]
    workers = workers or min(os.cpu_count() or 1, replicates, 4)
    if workers > 1:
        # Fresh interpreters: Polars' thread pool does not survive a fork.
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            rows = [r for part in pool.map(_run, jobs) for r in part]
    else:
        rows = [r for job in jobs for r in _run(job)]
    return {
        "replicates": replicates,
        "interviews": interviews,
        "firms": firms,
        "first_seed": seed,
        "params": asdict(params),
        "summary": summarise(pl.DataFrame(rows, infer_schema_length=None)).to_dicts(),
    }


def summarise(rows: pl.DataFrame) -> pl.DataFrame:
    """Per table, contrast, estimand and method: coverage, finding rate, bias, SE vs spread."""
    estimated = pl.col("estimate").is_not_null()
    covered = (pl.col("ci_low") <= pl.col("truth")) & (pl.col("truth") <= pl.col("ci_high"))
    return (
        rows.group_by("table", "contrast", "estimand", "method", maintain_order=True)
        .agg(
            pl.col("truth").first(),
            pl.col("is_null").first(),
            pl.len().alias("replicates"),
            estimated.sum().alias("estimated"),
            covered.filter(estimated).mean().alias("coverage"),
            pl.col("is_finding").mean().alias("finding_rate"),
            (pl.col("estimate") - pl.col("truth")).mean().alias("bias"),
            pl.col("estimate").mean().alias("mean_estimate"),
            pl.col("std_error").mean().alias("mean_std_error"),
            pl.col("estimate").std().alias("sd_estimate"),
        )
        .sort("table", "contrast", "estimand", "method", descending=[True, False, False, False])
    )


def format_table(result: dict) -> str:
    """The summary as a Markdown table (docs/methods.md carries one)."""
    head = (
        "| table | contrast | estimand | method | truth | mean estimate | coverage of 95% CI "
        "| called a finding | mean SE / SD |\n|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in result["summary"]:
        truth = "n/a" if r["truth"] is None else f"{r['truth']:+.3f}"
        coverage = "n/a" if r["truth"] is None or r["coverage"] is None else f"{r['coverage']:.1%}"
        ratio = (
            f"{r['mean_std_error'] / r['sd_estimate']:.2f}"
            if r["sd_estimate"] and r["mean_std_error"] is not None
            else "n/a"
        )
        mean = "n/a" if r["mean_estimate"] is None else f"{r['mean_estimate']:+.3f}"
        finding = f"{r['finding_rate']:.1%}" + (" (null)" if r["is_null"] else "")
        lines.append(
            f"| {r['table']} | {r['contrast']} | {r['estimand']} | {r['method']} | {truth} "
            f"| {mean} | {coverage} | {finding} | {ratio} |"
        )
    return "\n".join(lines)


def check(result: dict, min_coverage: float = 0.93, max_false: float = 0.05) -> list[str]:
    """What the within-client method must meet: coverage of every planted effect, and planted
    nulls called findings at most ``max_false`` of the time. Returns the failures."""
    failures = []
    for r in result["summary"]:
        if r["method"] != "within_client" or r["estimand"] == "application_offer":
            continue
        if r["truth"] is not None and r["coverage"] is not None and r["coverage"] < min_coverage:
            failures.append(f"{r['contrast']}: coverage {r['coverage']:.1%} < {min_coverage:.0%}")
        if r["is_null"] and r["finding_rate"] > max_false:
            failures.append(f"{r['contrast']}: null found {r['finding_rate']:.1%}")
    return failures
