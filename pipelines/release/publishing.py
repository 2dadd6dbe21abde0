"""Releasing the marts: the k-rule applied to the research tables, the k-anonymous row-level
release (`pipelines.release.microdata`) under a secret drawn for this publish, then a new
read-only snapshot (`warehouse.publish` writes it; the disclosure policy lives here, above the
storage layer)."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from pipelines.core.settings import K_DEFAULT, Settings
from pipelines.insights.build import built_position, spill_dir
from pipelines.privacy.erasure import last_erasure_position
from pipelines.release import microdata
from pipelines.release.disclosure import suppress_marts
from warehouse import tables
from warehouse.publish import Snapshot, publish, remove_snapshots_before
from warehouse.store import EventStore

# DuckDB's buffer while the release and the research marts read fct_interviews a slice at a time:
# it only scans for Polars, and at 10M a 1 GB cache of what it read took the step over 2 GiB.
SCANNING_MEMORY = "256MB"


def _fct(con: duckdb.DuckDBPyConnection) -> pl.LazyFrame:
    """``fct_interviews`` read lazily: each use reads only its columns, and the release a
    slice at a time."""
    return con.sql(f"SELECT * FROM {tables.FACT}").pl(lazy=True)


def research_marts(
    con: duckdb.DuckDBPyConnection, k: int, fct: pl.LazyFrame | None = None
) -> dict[str, pl.DataFrame]:
    """Every research mart of the warehouse with the k-rule applied jointly."""
    marts = {m: con.sql(f"SELECT * FROM marts.{m}").pl() for m in tables.RESEARCH_MARTS}
    return suppress_marts(marts, _fct(con) if fct is None else fct, k)


def publish_marts(
    con: duckdb.DuckDBPyConnection,
    published_dir: Path,
    last_position: int,
    *,
    k: int = K_DEFAULT,
    data_docs_path: Path | None = None,
    mart_checks: Path | None = None,
    secret: bytes | None = None,
) -> Snapshot:
    """A new snapshot of the warehouse's marts and row-level release as they may be released.

    ``secret`` keys the release's client keys; by default a fresh random one that is never
    stored, so no two snapshots share keys (tests pass their own)."""
    fct = _fct(con)
    # Beside the warehouse, never in the published folder: the slices hold pseudonyms.
    with tempfile.TemporaryDirectory(prefix="sealdeal-release-", dir=spill_dir(con)) as work:
        secret = secrets.token_bytes(32) if secret is None else secret
        with _duckdb_memory(con, SCANNING_MEMORY):
            rows = microdata.release(fct, k, secret, Path(work))
            marts = research_marts(con, k, fct)
        return publish(
            con,
            published_dir,
            last_position,
            marts,
            k=k,
            research_tables=microdata.publish_tables(rows),
            data_docs_path=data_docs_path,
            mart_checks=mart_checks,
        )


@contextmanager
def _duckdb_memory(con: duckdb.DuckDBPyConnection, limit: str) -> Iterator[None]:
    """DuckDB's buffer at ``limit`` meanwhile (lowering it evicts what it cached), then back."""
    (before,) = con.execute("SELECT current_setting('memory_limit')").fetchone()
    con.execute("SET memory_limit = ?", [limit])
    try:
        yield
    finally:
        con.execute("SET memory_limit = ?", [before])


def publish_snapshot(settings: Settings) -> dict:
    """Publish the built marts (after the mart checks), then drop snapshots an erasure outdated."""
    docs = settings.quality_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    with EventStore(settings.warehouse_path) as store:
        # DuckDB would otherwise cache what it reads up to 80% of RAM; Polars does the work.
        store.con.execute("SET memory_limit = ?", [settings.duckdb_memory_limit])
        snap = publish_marts(
            store.con,
            settings.published_dir,
            built_position(store),
            k=settings.suppression_k,
            data_docs_path=docs if docs.exists() else None,
            # check_marts runs just before: its newest results file (names sort by time).
            mart_checks=max((settings.quality_dir / "marts").glob("marts-*.json"), default=None),
        )
        # Older snapshots computed before the last erasure still hold that client.
        removed = remove_snapshots_before(settings.published_dir, last_erasure_position(store.con))
    return {
        "snapshot_id": snap.snapshot_id,
        "path": str(snap.path),
        "rows": snap.row_counts,
        "snapshots_removed_after_erasure": len(removed),
    }
