"""The dashboards' only data access: the current published snapshot, read-only and cached.

A snapshot is loaded once per (published dir, snapshot id, viewer's scope) and kept in memory; a
new snapshot is picked up on the next rerun because `current` is resolved on every run (a
readlink). What is read is decided here, by the viewer's ``dashboards.access.Scope``, not by which
widgets a page draws: a firm scope reads the row-level tables with ``WHERE firm_id = ?`` (other
firms' rows never enter the process), a coach gets no data health, only an operator the landing
files, and a researcher's session never opens firms.duckdb (only ``load_research``).
Cross-firm figures for a firm come only from research.duckdb's k-suppressed aggregate rows. In
local mode the scope is the operator's, or with ``SEALDEAL_FIRM`` (``sealdeal serve --firm``)
that firm's admin's.

Page numbers are recomputed live from the filtered rows with the pipeline's own transforms
(``pipelines.insights.marts.MARTS``, ``pipelines.insights.effects``) and the descriptive views of
``dashboards.descriptive``, so every filter changes every number and no estimator is
reimplemented here. A filtered view's estimates are explored against its family of views
(``dashboards.family``, ``dashboards.shrinkage``): every view of the family is computed the same
way, each once (cached).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl
import streamlit as st

from dashboards import access, descriptive, shrinkage
from dashboards import family as families
from pipelines.core import spec
from pipelines.core.settings import Settings
from pipelines.insights.effects import HYPOTHESIS_SCHEMA, TACTIC_SCHEMA, estimate_tables
from pipelines.insights.marts import MARTS
from pipelines.insights.rounds import with_group
from warehouse.publish import NoSnapshot, current_snapshot, open_snapshot

FIRM_ENV = "SEALDEAL_FIRM"
# The research marts a scoped viewer may be shown as a benchmark, with the aggregate rows only.
BENCHMARK_QUERY = (
    "SELECT * FROM marts.tactic_estimates WHERE segment_kind = ? ORDER BY tactic, estimand, method"
)
# The estimate tables of a view (schema, id column): its own "all" rows (a filtered view is a
# segment already), both tables computed together (`_estimate_tables`).
ESTIMATES = {
    "tactic_estimates": (TACTIC_SCHEMA, "tactic"),
    "hypothesis_tests": (HYPOTHESIS_SCHEMA, "hypothesis"),
}
MART_VIEWS = {name: fn for name, fn in MARTS.items() if name not in ESTIMATES}


@dataclass(frozen=True)
class Filters:
    """The sidebar's choices; an empty tuple means "all". Industries are the normalised
    groups (``pipelines.insights.rounds.label_groups``), not the firms' spellings."""

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
class Published:
    """One published snapshot as a scope sees it, and its citation (``meta.snapshot``)."""

    snapshot_id: str
    path: Path  # the snapshot directory
    scope: access.Scope
    meta: dict

    @property
    def created_at(self) -> datetime | None:
        return self.meta.get("created_at")

    @property
    def suppression_k(self) -> int | None:
        return self.meta.get("suppression_k")

    def age(self, now: datetime | None = None) -> timedelta | None:
        if self.created_at is None:
            return None
        return (now or datetime.now(UTC)) - self.created_at


@dataclass(frozen=True, eq=False)
class Snapshot(Published):
    fct: pl.DataFrame  # + industry_group, normalised over the rows in scope
    outcome_history: pl.DataFrame
    ingest_files: pl.DataFrame  # operators only
    quarantine_by_reason: pl.DataFrame  # empty unless the scope reads data health
    mart_checks: pl.DataFrame  # the GX checks the marts passed before this publish (idem)
    benchmark: pl.DataFrame  # research tactic_estimates, segment 'all', k-suppressed

    @property
    def firm(self) -> str | None:
        return self.scope.firm

    @property
    def last_ingest_at(self) -> datetime | None:
        return self.meta.get("last_ingest_at")

    @property
    def data_docs_path(self) -> str | None:
        return self.meta.get("data_docs_path")

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


def local_scope() -> access.Scope:
    """Local mode's scope (no sign-in): operator, or ``SEALDEAL_FIRM``'s firm admin."""
    return access.local_scope(firm_scope())


def current_snapshot_id(published_dir: Path) -> str | None:
    """The id `current` points at right now (cheap: one readlink)."""
    folder = current_snapshot(published_dir)
    return folder.name if folder is not None and folder.is_dir() else None


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    return con.sql(sql, params=params or None).pl()


def _read_firms(con: duckdb.DuckDBPyConnection, scope: access.Scope) -> dict[str, pl.DataFrame]:
    firm = scope.firm
    scoped = " WHERE firm_id = ?" if firm else ""
    params = [firm] if firm else []
    out = {
        "fct": with_group(
            _rows(con, f"SELECT * FROM detail.fct_interviews{scoped}", params).lazy(), "industry"
        ).collect(),
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
        )
        if scope.reads_health
        else pl.DataFrame(schema={"firm_id": pl.String, "reason": pl.String, "records": pl.Int64}),
        "mart_checks": _rows(con, "SELECT * FROM health.mart_checks")
        if scope.reads_health
        else pl.DataFrame(),
        # File names carry firm ids and the files hold every firm's records: operators only.
        "ingest_files": _rows(con, "SELECT * FROM health.ingest_files ORDER BY processed_at DESC")
        if scope.reads_landing_files
        else pl.DataFrame(),
    }
    return out


def load_snapshot(published_dir: str, snapshot_id: str, scope: access.Scope) -> Snapshot:
    """One snapshot as far as ``scope`` may see it, read once per scope. Refuses a scope that
    may not read firms.duckdb."""
    if not scope.reads_firms:
        raise access.Forbidden(f"a {scope.role} never reads firms.duckdb")
    return _load_snapshot(published_dir, snapshot_id, scope)


# A few scopes at once (viewers of different firms); each holds only its firm's rows.
@st.cache_resource(max_entries=8, show_spinner="Loading the published snapshot…")
def _load_snapshot(published_dir: str, snapshot_id: str, scope: access.Scope) -> Snapshot:
    """cache_resource, not cache_data: the frames are shared as they are (Polars frames are
    immutable) instead of being pickled on every rerun."""
    published = Path(published_dir)
    con = open_snapshot(published, snapshot_id, part="firms")
    try:
        meta = _rows(con, "SELECT * FROM meta.snapshot").row(0, named=True)
        rows = _read_firms(con, scope)
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
        scope=scope,
        meta=meta,
        benchmark=benchmark,
        **rows,
    )


P = TypeVar("P", bound=Published)


def _current(load: Callable[[str, str, access.Scope], P], scope: access.Scope) -> P | None:
    published = settings().published_dir
    snapshot_id = current_snapshot_id(published)
    if snapshot_id is None:
        return None
    try:
        return load(str(published), snapshot_id, scope)
    except NoSnapshot:
        return None  # pruned between the readlink and the open: the next rerun sees the new one


def current(scope: access.Scope | None = None) -> Snapshot | None:
    """The current snapshot as ``scope`` (default: local mode's) may see it, or None before the
    first publish."""
    return _current(load_snapshot, scope or local_scope())


# ------------------------------------------------------------------------------ research.duckdb
AGGREGATE_SCHEMAS = ("marts", "meta")  # what every scope may read of research.duckdb
RESEARCH_TABLES = (
    "SELECT schema_name || '.' || table_name AS name, comment AS description "
    "FROM duckdb_tables() WHERE database_name = current_database() ORDER BY schema_name, "
    "table_name"
)


@dataclass(frozen=True, eq=False)
class Research(Published):
    """research.duckdb as a scope may see it: the k-suppressed aggregates (``marts.*``) for
    every scope, the rest of the release (the row-level ``microdata.*``) for researchers and
    operators only."""

    tables: pl.DataFrame  # name (schema.table), description, rows: what the scope may read

    def readable(self, name: str) -> bool:
        return name in set(self.tables.get_column("name"))


def _quoted(name: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


@st.cache_resource(max_entries=8, show_spinner="Loading the published research tables…")
def load_research(published_dir: str, snapshot_id: str, scope: access.Scope) -> Research:
    """research.duckdb's table list and citation; firms.duckdb is not opened."""
    published = Path(published_dir)
    con = open_snapshot(published, snapshot_id, part="research")
    try:
        meta = _rows(con, "SELECT * FROM meta.snapshot").row(0, named=True)
        tables = _rows(con, RESEARCH_TABLES).filter(
            pl.col("name").str.split(".").list.first().is_in(AGGREGATE_SCHEMAS)
            | scope.reads_microdata
        )
        counts = [
            con.execute(f"SELECT count(*) FROM {_quoted(n)}").fetchone()[0]
            for n in tables.get_column("name")
        ]
    finally:
        con.close()
    return Research(
        snapshot_id=snapshot_id,
        path=published / "snapshots" / snapshot_id,
        scope=scope,
        meta=meta,
        tables=tables.with_columns(pl.Series("rows", counts, dtype=pl.Int64)),
    )


def current_research(scope: access.Scope) -> Research | None:
    """The current snapshot's research tables as ``scope`` may see them (None: none yet)."""
    return _current(load_research, scope)


@st.cache_resource(max_entries=32, show_spinner=False)
def _research_table(path: str, snapshot_id: str, name: str) -> pl.DataFrame:
    con = open_snapshot(Path(path).parent.parent, snapshot_id, part="research")
    try:
        return _rows(con, f"SELECT * FROM {_quoted(name)}")
    finally:
        con.close()


def research_table(research: Research, name: str) -> pl.DataFrame:
    """One table of research.duckdb (``schema.table``), if the scope may read it."""
    if not research.readable(name):
        raise access.Forbidden(f"{name} is not readable as {research.scope.describe()}")
    return _research_table(str(research.path), research.snapshot_id, name)


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


@st.cache_resource(max_entries=256, show_spinner=False)
def _estimate_tables(_snap: Snapshot, key: tuple, filters: Filters) -> dict[str, pl.DataFrame]:
    """Both estimate tables of a view, from one preparation of its rounds and side by side
    (``effects.estimate_tables``): five pages show the hypotheses, so the page that first
    needs either table computes the other with it, and the other pages find it ready."""
    return estimate_tables(filters.apply(_snap.fct.lazy()).collect(), ("all",))


# Only while a view's tables are first computed (they are cached on their own): a page's
# descriptive tables share one preparation of the view's rounds (~1.2 s at 1M interviews, ~90 MB).
@st.cache_resource(max_entries=2, show_spinner=False)
def _view_rounds(_snap: Snapshot, key: tuple, filters: Filters) -> pl.DataFrame:
    return descriptive.view_rounds(filters.apply(_snap.fct.lazy()))


@st.cache_resource(max_entries=512, show_spinner=False)
def _mart(_snap: Snapshot, key: tuple, filters: Filters, name: str) -> pl.DataFrame:
    if name in ESTIMATES:
        return _estimate_tables(_snap, key, filters)[name]
    if name in descriptive.VIEWS:
        return descriptive.VIEWS[name](_view_rounds(_snap, key, filters))
    return MART_VIEWS[name](filters.apply(_snap.fct.lazy())).collect()


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
    schema, id_column = ESTIMATES[name]
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
