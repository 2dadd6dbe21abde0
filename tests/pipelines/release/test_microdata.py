"""The row-level release (microdata.interviews): k-anonymous by distinct clients, keyed afresh in
every snapshot, every analysable round accounted for, nothing on the deny side of the
allow-list, and clean under the PII audit. Real snapshots of the shared `built_home` warehouse
(generated landing files -> ingest -> build), published again here at k = 5 and k = 20."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.core import spec
from pipelines.core.settings import KEY_ENV
from pipelines.insights.rounds import INDUSTRY_SYNONYMS, rounds
from pipelines.privacy.audit import run_audit
from pipelines.release import microdata, slices
from pipelines.release.publishing import publish_marts
from tests.conftest import TEST_KEY
from tests.pipelines.privacy.test_audit import copy_home, plant_in_duckdb
from warehouse import tables

SECRET_A = bytes(range(32))
SECRET_B = bytes(range(100, 132))
QIS = ("round", "stage", "seniority", "experience_band", "industry_group", "interview_period",
       "firm_size")  # fmt: skip
KEY = "snapshot_client_key"
# Every column a release may have, and its DuckDB type: anything else fails.
ALLOWED = {
    KEY: "VARCHAR",
    **dict.fromkeys(QIS, "VARCHAR"),
    "asked_fit_question": "BOOLEAN",
    "asked_about_concerns": "BOOLEAN",
    "asked_about_ideal_candidate": "BOOLEAN",
    "asked_how_compare": "BOOLEAN",
    "asked_at_pct": "INTEGER",
    "rapport_before_ask": "INTEGER",
    "concerns_raised": "VARCHAR[]",
    "concerns_addressed": "BOOLEAN",
    "self_rating": "INTEGER",
    "advanced": "BOOLEAN",
    "got_offer": "BOOLEAN",
    "got_referral": "BOOLEAN",
}
# Written down from the documented hierarchies, not from the module: level name -> the values
# the release may hold at that level (None: any industry group).
DOMAINS = {
    "round": {"1, 2, 3, 4+": {"1", "2", "3", "4+"}, "1, 2+": {"1", "2+"}},
    "stage": {"stage": set(spec.STAGES), "early, late, other": {"early", "late", "other"}},
    "seniority": {
        "seniority": set(spec.SENIORITIES),
        "entry-mid, senior+": {"entry-mid", "senior+"},
    },
    "experience_band": {
        "0-2, 3-5, 6-10, 11-20, 21+": {b for _, _, b in spec.EXPERIENCE_BANDS},
        "0-5, 6-10, 11+": {"0-5", "6-10", "11+"},
    },
    "industry_group": {
        "industry group": None,
        "standard groups, rest other": {*INDUSTRY_SYNONYMS, "other"},
    },
    "interview_period": {"quarter": r"20\d\d-Q[1-4]", "year": r"20\d\d"},
    "firm_size": {"small, medium, large": {"small", "medium", "large"}},
}


def _rows(path: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _frame(path: Path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouse(built_home, tmp_path_factory) -> Path:
    """A copy of the built warehouse, so that publishing here leaves built_home alone."""
    path = tmp_path_factory.mktemp("microdata") / "warehouse.duckdb"
    shutil.copy(built_home.warehouse_path, path)
    return path


@pytest.fixture(scope="module")
def snapshots(warehouse) -> dict[str, Path]:
    """research.duckdb of real publishes: two at k = 5 (fresh secrets each), one at k = 20."""
    out = {}
    con = duckdb.connect(str(warehouse))
    try:
        for name, k in (("k5", 5), ("k5_again", 5), ("k20", 20)):
            snap = publish_marts(con, warehouse.parent / name, last_position=1, k=k)
            out[name] = snap.research_path
    finally:
        con.close()
    return out


@pytest.fixture(scope="module")
def fct(warehouse) -> pl.DataFrame:
    return _frame(warehouse, f"SELECT * FROM {tables.FACT}")


def _info(path: Path) -> dict:
    return _frame(path, "SELECT * FROM microdata.release_info").row(0, named=True)


def _work(tmp_path: Path) -> Path:
    """A fresh, empty work folder for one release."""
    work = tmp_path / f"release-{len(list(tmp_path.iterdir()))}"
    work.mkdir()
    return work


def _analysable(fct: pl.DataFrame) -> pl.DataFrame:
    """The estimates' unit, straight from pipelines.insights.rounds."""
    return rounds(fct.lazy()).filter(pl.col("advanced").is_not_null()).collect()


# ------------------------------------------------------------------------ k-anonymity


@pytest.mark.parametrize("name, k", [("k5", 5), ("k20", 20)])
def test_every_released_combination_is_shared_by_k_distinct_clients(snapshots, name, k):
    path = snapshots[name]
    qis = ", ".join(f'"{q}"' for q in QIS)
    small = _rows(
        path,
        f"SELECT {qis}, count(DISTINCT {KEY}) FROM microdata.interviews GROUP BY ALL "
        "HAVING count(DISTINCT snapshot_client_key) < ?",
        [k],
    )
    assert small == []
    info = _info(path)
    assert info["k"] == k == _rows(path, "SELECT suppression_k FROM meta.snapshot")[0][0]
    assert info["rows_released"] > 0.9 * info["analysable_rounds"]
    # The levels release_info names are the levels the rows hold.
    for qi in QIS:
        level = info[f"{qi}_level"]
        values = {v for (v,) in _rows(path, f'SELECT DISTINCT "{qi}" FROM microdata.interviews')}
        allowed = DOMAINS[qi].get(level, {"all"})
        if isinstance(allowed, str):
            assert all(re.fullmatch(allowed, v) for v in values), (qi, values)
        elif allowed is not None:
            assert values <= allowed, (qi, level, values)


def test_the_data_needed_generalising_and_a_larger_k_needs_more(snapshots, fct):
    # Level 0 is far from 5-anonymous on 2,000 interviews: without the recoding, the check above
    # would fail.
    rows = microdata.analysable_rows(fct.lazy()).collect()
    per_class = rows.group_by(QIS).agg(
        pl.struct("firm_id", "client_key").n_unique().alias("clients")
    )
    assert per_class.filter(pl.col("clients") < 5).height > 100
    k5, k20 = _info(snapshots["k5"]), _info(snapshots["k20"])
    assert 0 < k5["step"] <= k20["step"]
    assert k20["rows_suppressed"] > k5["rows_suppressed"] > 0
    for info in (k5, k20):
        assert info["rows_suppressed"] <= info["max_suppressed_share"] * info["analysable_rounds"]
        assert info["clients_suppressed"] == 0 or info["clients_suppressed"] >= info["k"]


def test_no_recoding_at_k_1_and_a_zero_budget_suppresses_nothing(fct, tmp_path):
    at_1 = microdata.release(fct.lazy(), 1, SECRET_A, _work(tmp_path)).info.row(0, named=True)
    assert (at_1["step"], at_1["rows_suppressed"]) == (0, 0)
    strict = microdata.release(fct.lazy(), 5, SECRET_A, _work(tmp_path), max_suppressed_share=0.0)
    info = strict.info.row(0, named=True)
    assert info["rows_suppressed"] == 0 and info["step"] > 0
    assert info["rows_released"] == info["analysable_rounds"]


def _one_stratum(fct: pl.DataFrame) -> pl.DataFrame:
    """Every interview in one quasi-identifier combination: one firm, round 1, one quarter..."""
    return fct.with_columns(
        pl.lit("north-star").alias("firm_id"),
        pl.lit("software").alias("industry"),
        pl.lit("mid").alias("seniority"),
        pl.lit("3-5").alias("experience_band"),
        pl.lit(date(2025, 5, 5)).alias("interview_date"),
        pl.lit(1, dtype=pl.Int32).alias("round"),
        pl.lit("panel").alias("stage"),
    )


def test_rows_of_fewer_than_k_clients_go_with_the_smallest_class_until_k_clients_go(fct, tmp_path):
    base = _one_stratum(fct)
    usable = _analysable(base)
    clients = usable.get_column("client_key").unique(maintain_order=True).to_list()
    lone, six = clients[0], clients[1:7]
    lone_row = usable.filter(pl.col("client_key") == lone).get_column("interview_key")[0]
    crafted = base.with_columns(
        pl.when(pl.col("interview_key") == lone_row)
        .then(pl.lit("final"))
        .when(pl.col("client_key").is_in(six))
        .then(pl.lit("hiring_manager"))
        .otherwise(pl.col("stage"))
        .alias("stage")
    )
    out = microdata.release(crafted.lazy(), 5, SECRET_A, tmp_path)
    info = out.info.row(0, named=True)
    # One client's row alone would be a difference of one client against the aggregates: the
    # next smallest class (six clients) goes too.
    assert info["step"] == 0
    assert set(out.interviews.collect().get_column("stage").unique()) == {"panel"}
    analysable = _analysable(crafted)
    hm = analysable.filter(pl.col("stage") == "hiring_manager").height
    assert info["rows_suppressed"] == 1 + hm
    assert info["clients_suppressed"] == 7


@pytest.mark.parametrize("source", ["polars", "duckdb"])
def test_slices_of_whole_applications_release_what_one_slice_does(
    fct, warehouse, tmp_path, monkeypatch, source
):
    # Round numbers, industry groups and firm sizes span slices: each must come from the whole.
    one = microdata.release(fct.lazy(), 5, SECRET_A, _work(tmp_path))
    monkeypatch.setattr(slices, "SLICE_ROUNDS", 50)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:  # as publishing reads it: DuckDB filters each slice
        lazy = con.sql(f"SELECT * FROM {tables.FACT}").pl(lazy=True)
        quoted = tmp_path / "o'brien"  # a path that must be quoted in DuckDB's SQL
        quoted.mkdir()
        sliced = microdata.release(lazy if source == "duckdb" else fct.lazy(), 5, SECRET_A, quoted)
    finally:
        con.close()
    assert len(list(sliced.path.parent.glob("rounds-*.parquet"))) > 30
    assert sliced.info.equals(one.info) and one.info["rows_suppressed"].item() > 0
    assert sliced.interviews.collect().equals(one.interviews.collect())


# ------------------------------------------------------------------------ keys


def _pseudonym_values(path: Path) -> list[str]:
    """Every distinct text value of 16+ characters in every table of the warehouse."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = con.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database() AND data_type = 'VARCHAR'"
        ).fetchall()
        values: set[str] = set()
        for s, t, c in columns:
            values |= {
                v
                for (v,) in con.execute(
                    f'SELECT DISTINCT "{c}" FROM "{s}"."{t}" WHERE length("{c}") >= 16'
                ).fetchall()
            }
    finally:
        con.close()
    return sorted(values)


def test_no_released_key_is_or_is_part_of_a_warehouse_pseudonym(snapshots, warehouse):
    keys = {
        k for (k,) in _rows(snapshots["k5"], f"SELECT DISTINCT {KEY} FROM microdata.interviews")
    }
    assert len(keys) > 200 and all(re.fullmatch(r"c[0-9a-f]{16}", k) for k in keys)
    values = _pseudonym_values(warehouse)
    client_keys = {v for (v,) in _rows(warehouse, f"SELECT DISTINCT client_key FROM {tables.FACT}")}
    assert client_keys <= set(values)  # the pseudonyms are among what is searched
    blob = "\n".join(values)
    assert not keys & set(values)
    assert not [k for k in keys if k[1:] in blob]


def test_two_publishes_share_no_key_but_the_same_rows(snapshots):
    rows = {
        name: _frame(snapshots[name], "SELECT * FROM microdata.interviews")
        for name in ("k5", "k5_again")
    }
    a, b = (set(rows[n].get_column(KEY)) for n in ("k5", "k5_again"))
    assert a and not a & b
    # Only the keys differ: the same rows, and the same number of rows per client.
    content = [
        r.drop(KEY).with_columns(pl.col("concerns_raised").list.join(",")).sort(pl.all())
        for r in rows.values()
    ]
    assert content[0].equals(content[1])
    sizes = [sorted(r.group_by(KEY).len().get_column("len").to_list()) for r in rows.values()]
    assert sizes[0] == sizes[1]


def test_keys_under_two_secrets_are_unrelated_and_each_secret_keys_one_client_one_way(fct):
    clients = fct.select("firm_id", "client_key").unique().sort("firm_id", "client_key")
    a = microdata.snapshot_keys(clients, SECRET_A)
    b = microdata.snapshot_keys(clients, SECRET_B)
    both = a.join(b, on=["firm_id", "client_key"], suffix="_b")
    assert both.height == clients.height
    assert (both.get_column(KEY) != both.get_column(f"{KEY}_b")).all()
    # No order survives: a permutation or an offset would keep the ranks.
    ranks = both.select(pl.col(KEY).rank(), pl.col(f"{KEY}_b").rank())
    assert abs(ranks.corr().item(0, 1)) < 0.25
    assert (
        microdata.snapshot_keys(clients, SECRET_A)
        .sort("firm_id", "client_key")
        .equals(a.sort("firm_id", "client_key"))
    )
    with pytest.raises(ValueError, match="16 random bytes"):
        microdata.snapshot_keys(clients, b"short")


def test_one_key_per_client_holds_exactly_that_clients_rounds(fct, tmp_path):
    out = microdata.release(fct.lazy(), 1, SECRET_A, tmp_path).interviews.collect()
    keys = microdata.snapshot_keys(fct, SECRET_A)
    released = out.group_by(KEY).agg(pl.len().alias("released"), pl.col("advanced").sum())
    truth = (
        _analysable(fct)
        .group_by("firm_id", "client_key")
        .agg(pl.len().alias("rounds"), pl.col("advanced").sum().alias("advanced_truth"))
        .join(keys, on=["firm_id", "client_key"])
        .join(released, on=KEY, how="full")
    )
    assert truth.select("rounds", "released").null_count().row(0) == (0, 0)
    assert (truth.get_column("rounds") == truth.get_column("released")).all()
    assert (truth.get_column("advanced") == truth.get_column("advanced_truth")).all()


# ------------------------------------------------------------------------ accounting

COMPARED = ("advanced", "self_rating", "asked_fit_question", "asked_at_pct", "rapport_before_ask",
            "concerns_addressed")  # fmt: skip


@pytest.mark.parametrize("k", [5, 20])
def test_released_and_suppressed_rows_are_every_analysable_round(fct, k, tmp_path):
    out = microdata.release(fct.lazy(), k, SECRET_A, tmp_path)
    info = out.info.row(0, named=True)
    released_rows = out.interviews.collect()
    analysable = _analysable(fct)
    assert info["rows_released"] == released_rows.height
    assert info["rows_released"] + info["rows_suppressed"] == analysable.height
    keys = microdata.snapshot_keys(fct, SECRET_A)
    truth = analysable.join(keys, on=["firm_id", "client_key"])
    missing = 0
    advanced_missing = 0
    for (key,), rows in truth.group_by(KEY):
        warehouse_rows = Counter(rows.select(COMPARED).iter_rows())
        released = Counter(released_rows.filter(pl.col(KEY) == key).select(COMPARED).iter_rows())
        assert not released - warehouse_rows, key  # every released row is one of the client's
        gone = warehouse_rows - released
        missing += gone.total()
        advanced_missing += sum(n for row, n in gone.items() if row[0])
    assert missing == info["rows_suppressed"]
    # The released outcomes are the warehouse's, less those of the suppressed rows exactly.
    assert (
        released_rows.get_column("advanced").sum()
        == analysable.get_column("advanced").sum() - advanced_missing
    )


@pytest.mark.parametrize("name", ["k5", "k20"])
def test_the_snapshot_accounts_for_every_round_the_warehouse_uses(snapshots, warehouse, name):
    path = snapshots[name]
    info = _info(path)
    ((used, advanced),) = _rows(
        warehouse,
        "SELECT sum(rounds) FILTER (WHERE is_used), sum(rounds) FILTER (WHERE round_status = "
        "'advanced') FROM marts.rounds_by_status",
    )
    ((released, released_advanced),) = _rows(
        path, "SELECT count(*), count(*) FILTER (WHERE advanced) FROM microdata.interviews"
    )
    assert released == info["rows_released"]
    assert info["analysable_rounds"] == used == released + info["rows_suppressed"]
    assert 0 <= advanced - released_advanced <= info["rows_suppressed"]
    counts = _rows(path, "SELECT row_counts FROM meta.snapshot")[0][0]
    assert counts["microdata.interviews"] == released


# ------------------------------------------------------------------------ what a row holds


def test_columns_are_the_allow_list_and_hold_no_ref_firm_or_date(snapshots, warehouse):
    path = snapshots["k5"]
    columns = dict(
        _rows(
            path,
            "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'microdata' "
            "AND table_name = 'interviews' ORDER BY column_index",
        )
    )
    assert columns == ALLOWED
    schemas = {s for (s,) in _rows(path, "SELECT DISTINCT schema_name FROM duckdb_tables()")}
    assert schemas == {"marts", "meta", "microdata"}
    info_types = {t for (_, t) in _rows(
        path,
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'microdata'",
    )}  # fmt: skip
    assert not {t for t in info_types if "DATE" in t or "TIME" in t}
    # No text value of the release is a firm id, a date or a warehouse value of 16+ characters.
    released = _frame(path, "SELECT * FROM microdata.interviews")
    texts = set()
    for column, dtype in released.schema.items():
        if dtype == pl.String:
            texts |= set(released.get_column(column).drop_nulls())
    firms = {f for (f,) in _rows(warehouse, f"SELECT DISTINCT firm_id FROM {tables.FACT}")}
    assert firms and not texts & firms
    assert not [t for t in texts if re.search(r"\d{4}-\d{2}-\d{2}", t)]
    assert not texts & set(_pseudonym_values(warehouse))
    parquet = path.parent / "parquet" / "microdata_interviews.parquet"
    assert pl.read_parquet(parquet).columns == list(ALLOWED)
    assert pl.read_parquet(parquet).height == released.height


def test_every_column_is_commented(snapshots):
    described = _rows(
        snapshots["k5"],
        "SELECT table_name, column_name, comment FROM duckdb_columns() "
        "WHERE schema_name = 'microdata'",
    )
    assert {t for t, _, _ in described} == {"interviews", "release_info"}
    assert all(comment for _, _, comment in described)


# ------------------------------------------------------------------------ PII audit


def test_the_pii_audit_is_clean_with_the_release_and_sees_inside_it(
    built_home, tmp_path, monkeypatch
):
    monkeypatch.setenv(KEY_ENV, TEST_KEY)
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    home = copy_home(built_home, tmp_path / "home")
    research = sorted(home.published_dir.glob("snapshots/*/research.duckdb"))[-1]
    assert _rows(research, "SELECT count(*) FROM microdata.interviews")[0][0] > 1000
    report = run_audit(home)
    assert report.clean, report.format()
    # The same audit finds an e-mail planted in the release.
    where = plant_in_duckdb(research, "jane.roe-4821@example.org", schema="microdata")
    assert where.startswith("microdata.interviews.")
    found = run_audit(home).findings
    assert [(f.where, f.kind) for f in found] == [(where, "email")]
