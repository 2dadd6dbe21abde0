"""The dashboards' only data access: the current published snapshot, read-only and cached.

A snapshot is loaded once per (published dir, snapshot id, firm scope) and kept in memory; a new
snapshot is picked up on the next rerun because `current` is resolved on every run (a readlink).
When the app is firm-scoped (env ``SEALDEAL_FIRM``, set by ``sealdeal serve --firm``) the
row-level tables are read with ``WHERE firm_id = ?``: other firms' rows never enter the process.
Cross-firm figures come only from research.duckdb's k-suppressed aggregate rows.

Page numbers are recomputed live from the filtered rows with the pipeline's own transforms
(``pipelines.insights.marts.MARTS``, ``pipelines.insights.effects``) and the descriptive views of
``dashboards.descriptive``, so every filter changes every number and no estimator is
reimplemented here. A filtered view's estimates are explored against its family of views
(``dashboards.family``, ``dashboards.shrinkage``): every view of the family is computed the same
way, each once (cached).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path

import duckdb
import polars as pl
import streamlit as st

from dashboards import descriptive, shrinkage
from dashboards import family as families
from pipelines.core import spec
from pipelines.core.settings import Settings
from pipelines.insights.effects import (
    HYPOTHESIS_SCHEMA,
    TACTIC_SCHEMA,
    hypothesis_tests,
    tactic_estimates,
)
from pipelines.insights.marts import MARTS
from pipelines.insights.rounds import industry_group
from warehouse.publish import NoSnapshot, current_snapshot, open_snapshot

FIRM_ENV = "SEALDEAL_FIRM"
# The research marts a scoped viewer may be shown as a benchmark, with the aggregate rows only.
BENCHMARK_QUERY = (
    "SELECT * FROM marts.tactic_estimates WHERE segment_kind = ? ORDER BY tactic, estimand, method"
)
# The estimates of one view: its own "all" rows (a filtered view is a segment already).
ESTIMATES = {
    "tactic_estimates": (lambda lf: tactic_estimates(lf, ("all",)), TACTIC_SCHEMA, "tactic"),
    "hypothesis_tests": (
        lambda lf: hypothesis_tests(lf, ("all",)),
        HYPOTHESIS_SCHEMA,
        "hypothesis",
    ),
}
VIEWS = {name: fn for name, fn in MARTS.items() if name not in ESTIMATES} | descriptive.VIEWS


@dataclass(frozen=True)
class Filters:
    """The sidebar's choices; an empty tuple means "all". Industries are the normalised
    groups (``pipelines.insights.rounds.industry_group``), not the firms' spellings."""

    firms: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    industries: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    seniorities: tuple[str, ...] = ()

    def apply(self, lf: pl.LazyFrame) -> pl.LazyFrame:
        conditions = [
            pl.col(column).is_in(list(values))
            for column, values in (
                ("firm_id", self.firms),
                ("industry_group", self.industries),
                ("stage", self.stages),
                ("seniority", self.seniorities),
            )
            if values
        ]
        if self.date_from is not None:
            conditions.append(pl.col("interview_date") >= self.date_from)
        if self.date_to is not None:
            conditions.append(pl.col("interview_date") <= self.date_to)
        return lf.filter(*conditions) if conditions else lf


@dataclass(frozen=True, eq=False)
class Snapshot:
    snapshot_id: str
    path: Path
    firm: str | None
    meta: dict
    fct: pl.DataFrame  # + industry_group, normalised over the rows in scope
    outcome_history: pl.DataFrame
    ingest_files: pl.DataFrame  # empty when firm-scoped
    quarantine_by_reason: pl.DataFrame
    mart_checks: pl.DataFrame  # the GX checks the marts passed before this publish
    benchmark: pl.DataFrame  # research tactic_estimates, segment 'all', k-suppressed

    @property
    def created_at(self) -> datetime | None:
        return self.meta.get("created_at")

    @property
    def last_ingest_at(self) -> datetime | None:
        return self.meta.get("last_ingest_at")

    @property
    def suppression_k(self) -> int | None:
        return self.meta.get("suppression_k")

    @property
    def data_docs_path(self) -> str | None:
        return self.meta.get("data_docs_path")

    def age(self, now: datetime | None = None) -> timedelta | None:
        if self.created_at is None:
            return None
        return (now or datetime.now(UTC)) - self.created_at

    @cached_property
    def options(self) -> dict[str, list]:
        """Filter choices: the spec's values first, then any other value seen."""

        def seen(column: str, preferred: tuple[str, ...] = ()) -> list[str]:
            values = set(self.fct.get_column(column).drop_nulls().unique().to_list())
            return [v for v in preferred if v in values] + sorted(values - set(preferred))

        dates = self.fct.get_column("interview_date")
        return {
            "firms": seen("firm_id"),
            "industries": seen("industry_group"),
            "stages": seen("stage", spec.STAGES),
            "seniorities": seen("seniority", spec.SENIORITIES),
            "dates": (dates.min(), dates.max())
            if dates.len() and dates.null_count() < dates.len()
            else None,
        }

    @cached_property
    def unfiltered(self) -> Filters:
        """What the sidebar gives when nothing is chosen (the firm in scope, the data's span)."""
        dates = self.options["dates"]
        return Filters(
            firms=(self.firm,) if self.firm else (),
            date_from=dates[0] if dates else None,
            date_to=dates[1] if dates else None,
        )


def settings() -> Settings:
    return Settings.from_env()


def firm_scope() -> str | None:
    return os.environ.get(FIRM_ENV) or None


def current_snapshot_id(published_dir: Path) -> str | None:
    """The id `current` points at right now (cheap: one readlink)."""
    folder = current_snapshot(published_dir)
    return folder.name if folder is not None and folder.is_dir() else None


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    return con.sql(sql, params=params or None).pl()


def _read_firms(con: duckdb.DuckDBPyConnection, firm: str | None) -> dict[str, pl.DataFrame]:
    scoped = " WHERE firm_id = ?" if firm else ""
    params = [firm] if firm else []
    out = {
        "fct": _rows(con, f"SELECT * FROM detail.fct_interviews{scoped}", params).with_columns(
            industry_group()
        ),
        "outcome_history": _rows(
            con,
            f"SELECT * FROM detail.outcome_history{scoped} ORDER BY client_key, decided_at",
            params,
        ),
        "quarantine_by_reason": _rows(
            con,
            "SELECT firm_id, reason, sum(records)::BIGINT AS records "
            f"FROM health.quarantine_by_reason{scoped} "
            "GROUP BY ALL ORDER BY records DESC, reason",
            params,
        ),
    }
    out["mart_checks"] = _rows(con, "SELECT * FROM health.mart_checks")
    # File names carry firm ids and the files hold every firm's records: operators only.
    out["ingest_files"] = (
        pl.DataFrame()
        if firm
        else _rows(con, "SELECT * FROM health.ingest_files ORDER BY processed_at DESC")
    )
    return out


@st.cache_resource(max_entries=2, show_spinner="Loading the published snapshot…")
def load_snapshot(published_dir: str, snapshot_id: str, firm: str | None) -> Snapshot:
    """One snapshot, read once. cache_resource, not cache_data: the frames are shared as they
    are (Polars frames are immutable) instead of being pickled on every rerun."""
    published = Path(published_dir)
    con = open_snapshot(published, snapshot_id, part="firms")
    try:
        meta = _rows(con, "SELECT * FROM meta.snapshot").row(0, named=True)
        rows = _read_firms(con, firm)
    finally:
        con.close()
    con = open_snapshot(published, snapshot_id, part="research")
    try:
        benchmark = _rows(con, BENCHMARK_QUERY, ["all"])
    finally:
        con.close()
    return Snapshot(
        snapshot_id=snapshot_id,
        path=published / "snapshots" / snapshot_id,
        firm=firm,
        meta=meta,
        benchmark=benchmark,
        **rows,
    )


def current() -> Snapshot | None:
    """The current snapshot for this app's firm scope, or None before the first publish."""
    published = settings().published_dir
    snapshot_id = current_snapshot_id(published)
    if snapshot_id is None:
        return None
    try:
        return load_snapshot(str(published), snapshot_id, firm_scope())
    except NoSnapshot:
        return None  # pruned between the readlink and the open: the next rerun sees the new one


def _key(snap: Snapshot) -> tuple:
    return (str(snap.path), snap.snapshot_id, snap.firm)


@st.cache_resource(max_entries=32, show_spinner=False)
def _clients(_snap: Snapshot, key: tuple, filters: Filters) -> pl.DataFrame:
    return (
        filters.apply(_snap.fct.lazy())
        .group_by("client_key")
        .agg(
            pl.len().alias("interviews"),
            pl.col("got_offer").sum().alias("offers"),
            pl.col("interview_date").min().alias("first_interview"),
            pl.col("interview_date").max().alias("last_interview"),
        )
        .sort("interviews", "client_key", descending=[True, False])
        .collect()
    )


@st.cache_resource(max_entries=128, show_spinner=False)
def _summary(_snap: Snapshot, key: tuple, filters: Filters) -> dict[str, int]:
    return (
        filters.apply(_snap.fct.lazy())
        .select(
            pl.len().alias("interviews"),
            pl.col("is_decided").sum().alias("decided"),
            pl.col("client_key").n_unique().alias("clients"),
        )
        .collect()
        .row(0, named=True)
    )


def summary(snap: Snapshot, filters: Filters) -> dict[str, int]:
    """Interviews, decided interviews and clients that pass the filters."""
    return _summary(snap, _key(snap), filters)


def clients(snap: Snapshot, filters: Filters) -> pl.DataFrame:
    """Clients with at least one interview that passes the filters, most interviews first."""
    return _clients(snap, _key(snap), filters)


@st.cache_resource(max_entries=512, show_spinner=False)
def _mart(_snap: Snapshot, key: tuple, filters: Filters, name: str) -> pl.DataFrame:
    rows = filters.apply(_snap.fct.lazy())
    if name in ESTIMATES:
        return ESTIMATES[name][0](rows).collect()
    result = VIEWS[name](rows)
    return result if isinstance(result, pl.DataFrame) else result.collect()


def mart(snap: Snapshot, name: str, filters: Filters) -> pl.DataFrame:
    """A mart (``pipelines.insights.marts.MARTS``; the estimates with their ``all`` rows only) or a
    descriptive view (``dashboards.descriptive.VIEWS``) computed from the filtered interviews."""
    return _mart(snap, _key(snap), filters, name)


def family(snap: Snapshot, filters: Filters) -> families.FamilyOfViews:
    """The views a filtered view could have been (none when nothing is filtered)."""
    return families.family(filters, snap.options)


@st.cache_resource(max_entries=256, show_spinner="Estimating every view of the family…")
def _explored(_snap: Snapshot, key: tuple, filters: Filters, name: str) -> pl.DataFrame:
    fam = family(_snap, filters)
    _, schema, id_column = ESTIMATES[name]
    others = [mart(_snap, name, cell) for cell in fam.cells]
    return shrinkage.explore(
        mart(_snap, name, filters),
        mart(_snap, name, _snap.unfiltered),
        shrinkage.Family(
            pl.concat(others) if others else pl.DataFrame(schema=schema),
            fam.size,
            fam.exhaustive,
        ),
        id_column,
    )


def estimates(snap: Snapshot, name: str, filters: Filters) -> pl.DataFrame:
    """``tactic_estimates`` or ``hypothesis_tests`` of the view. Unfiltered: the pipeline's
    rows (segment all, the confirmatory family). Filtered: shrunk toward the overall estimate,
    with the raw ones beside them and ``is_finding`` / ``q_value`` corrected across the family
    of views (``dashboards.shrinkage.explore``)."""
    if not family(snap, filters).is_filtered:
        return mart(snap, name, filters)
    return _explored(snap, _key(snap), filters, name)


def industry_map(snap: Snapshot) -> pl.DataFrame:
    """Every industry spelling in scope and the group the estimates put it in."""
    return _mart(snap, _key(snap), snap.unfiltered, "industry_groups")


def client_history(snap: Snapshot, client_key: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A client's interviews (by date) and every outcome reported for them (in order)."""
    interviews = snap.fct.filter(pl.col("client_key") == client_key).sort(
        "interview_date", "decided_at", nulls_last=True
    )
    outcomes = snap.outcome_history.filter(pl.col("client_key") == client_key).sort("decided_at")
    return interviews, outcomes
