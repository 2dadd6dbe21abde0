"""Great Expectations checks on the built marts, before anything is published.

Expectations are derived from each mart's columns, so a new mart is checked by the same rules:
keys unique; counts never negative; rates, p- and q-values in [0, 1]; differences in [-1, 1];
every interval contains its estimate (`<x>_ci_low <= <x> <= <x>_ci_high`); q >= p.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.data_context.types.base import ProgressBarsConfig

KEYS = {
    "fct_interviews": ["firm_id", "interview_key"],
    "tactic_estimates": ["tactic", "estimand", "method", "segment"],
    "hypothesis_tests": ["hypothesis", "estimand", "method", "segment"],
    "industry_groups": ["industry"],
    "rounds_by_status": ["firm_id", "round_status"],
    "offer_rate_by_timing": ["timing_bin"],
    "offer_rate_by_rapport": ["rapport_before_ask"],
    "objections": ["concern", "concerns_addressed"],
    "perception_gap": ["self_rating"],
    "warm_prospects": ["tactic"],
    "funnel_by_stage": ["stage"],
    "trends_by_month": ["month"],
}
COUNT_COLUMNS = {
    "n", "n_with", "n_without", "offers", "offers_with", "offers_without", "interviews",
    "decided", "pending", "next_rounds", "rejections", "withdrawals", "no_responses",
    "advanced", "asked", "referrals_with", "referrals_without", "n_treated", "n_control",
    "n_clients", "n_clients_treated", "n_clients_control", "rounds", "clients",
    "advances_inferred", "corrected_after_outcome",
}  # fmt: skip
DIFF_ESTIMATES = {"diff", "adj_diff", "estimate"}


class MartCheckFailed(Exception):
    pass


@dataclass
class CheckResult:
    table: str
    expectation: str
    column: str
    success: bool
    unexpected: int


def _estimates(columns: list[str]) -> dict[str, tuple[str, str]]:
    """estimate column -> (its ci_low, its ci_high)."""
    out = (
        {"estimate": ("ci_low", "ci_high")}
        if {"estimate", "ci_low", "ci_high"} <= set(columns)
        else {}
    )
    for c in columns:
        for prefix in (c, c.removesuffix("_diff")):
            low, high = f"{prefix}_ci_low", f"{prefix}_ci_high"
            if low in columns and high in columns and c not in (low, high):
                out[c] = (low, high)
                break
    return out


def expectations_for(table: str, columns: list[str]) -> list[gxe.Expectation]:
    exps: list[gxe.Expectation] = []
    keys = KEYS.get(table)
    if keys:
        exps.append(
            gxe.ExpectCompoundColumnsToBeUnique(column_list=keys)
            if len(keys) > 1
            else gxe.ExpectColumnValuesToBeUnique(column=keys[0])
        )
        exps += [
            gxe.ExpectColumnValuesToNotBeNull(column=k) for k in keys if k != "concerns_addressed"
        ]
    for c in columns:
        if c in COUNT_COLUMNS:
            exps.append(gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0))
        elif (
            c in ("p_value", "q_value")
            or c.endswith("rate")
            or "_rate_" in c
            or c.startswith("rate_")
        ):
            exps.append(gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=1))
        elif c in DIFF_ESTIMATES or c.startswith(("diff_", "adj_ci_")):
            exps.append(gxe.ExpectColumnValuesToBeBetween(column=c, min_value=-1, max_value=1))
    for estimate, (low, high) in _estimates(columns).items():
        for a, b in ((estimate, low), (high, estimate)):
            exps.append(
                gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=a, column_B=b, or_equal=True, ignore_row_if="either_value_is_missing"
                )
            )
    if "q_value" in columns and "p_value" in columns:
        exps.append(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="q_value", column_B="p_value", or_equal=True,
                ignore_row_if="either_value_is_missing",
            )
        )  # fmt: skip
    return exps


def check_marts(
    con: duckdb.DuckDBPyConnection, quality_dir: Path | None = None
) -> list[CheckResult]:
    """Validate every table of schema `marts`; raise MartCheckFailed listing what broke."""
    context = gx.get_context(mode="ephemeral")
    context.enable_analytics(False)
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("marts")
    tables = [
        t
        for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' "
            "ORDER BY 1"
        ).fetchall()
    ]
    results: list[CheckResult] = []
    for table in tables:
        # Lists are irrelevant to these rules and pandas handles them poorly: leave them out.
        cols = [
            c
            for c, dtype in con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'marts' AND table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
            if not dtype.endswith("[]")
        ]
        frame = con.sql(f"SELECT {', '.join(cols)} FROM marts.{table}").df()
        suite = context.suites.add(
            gx.ExpectationSuite(name=f"marts.{table}", expectations=expectations_for(table, cols))
        )
        batch = (
            source.add_dataframe_asset(table)
            .add_batch_definition_whole_dataframe("all")
            .get_batch(batch_parameters={"dataframe": frame})
        )
        outcome = batch.validate(suite)
        for r in outcome.results:
            cfg = r.expectation_config
            kwargs = cfg.kwargs
            column = kwargs.get("column") or ",".join(
                kwargs.get("column_list")
                or [kwargs.get("column_A", ""), kwargs.get("column_B", "")]
            )
            results.append(
                CheckResult(
                    table,
                    cfg.type,
                    column,
                    bool(r.success),
                    int(r.result.get("unexpected_count") or 0),
                )
            )
    if quality_dir is not None:
        quality_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        (quality_dir / f"marts-{stamp}.json").write_text(
            json.dumps([r.__dict__ for r in results], indent=1)
        )
    failed = [r for r in results if not r.success]
    if failed:
        raise MartCheckFailed(
            "mart checks failed: "
            + "; ".join(f"{r.table}: {r.expectation}({r.column}) x{r.unexpected}" for r in failed)
        )
    return results
