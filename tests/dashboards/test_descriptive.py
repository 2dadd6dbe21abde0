"""Descriptive rates on rounds and applications, with client-clustered Wilson intervals."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from dashboards import descriptive
from pipelines.insights.marts import timing_group
from pipelines.insights.rounds import rounds, rounds_by_status
from pipelines.insights.stats import wilson_ci
from warehouse.publish import open_snapshot


def test_one_round_per_client_is_the_plain_wilson_interval():
    y = np.array([1] * 45 + [0] * 75)
    out = descriptive.clustered_wilson(y, np.arange(120))
    assert out["design_effect"] == 1.0
    assert (out["rate_ci_low"], out["rate_ci_high"]) == pytest.approx(wilson_ci(45, 120))
    assert out["n"] == 120 and out["successes"] == 45 and out["clients"] == 120


def test_clients_whose_rounds_agree_count_for_less():
    # 30 clients with 4 rounds each, every client's rounds the same: 30 independent answers.
    y = np.repeat([1] * 12 + [0] * 18, 4)
    clients = np.repeat(np.arange(30), 4)
    out = descriptive.clustered_wilson(y, clients)
    assert out["design_effect"] == pytest.approx(4.0)
    assert (out["rate_ci_low"], out["rate_ci_high"]) == pytest.approx(wilson_ci(12, 30))
    assert out["rate"] == pytest.approx(0.4)


def test_the_figures_do_not_depend_on_the_order_of_the_rows():
    # Polars' group_by hands a group's rows over in any order: the same rows, the same bits.
    # (Summing each client's residuals row by row gave these rows reversed another last bit.)
    clients = np.repeat(np.arange(4), [8, 4, 11, 11])
    y = np.array([int(c) for c in "1111010010110000110000100001000110"])
    out = descriptive.clustered_wilson(y, clients)
    assert descriptive.clustered_wilson(y[::-1], clients[::-1]) == out
    rng = np.random.default_rng(3)
    for _ in range(5):
        order = rng.permutation(y.size)
        assert descriptive.clustered_wilson(y[order], clients[order]) == out


def test_no_rows_no_rate():
    out = descriptive.clustered_wilson(np.array([]), np.array([]))
    assert out["n"] == 0 and out["rate"] is None


@pytest.fixture(scope="module")
def fct(built_home) -> pl.DataFrame:
    con = open_snapshot(built_home.published_dir, part="firms")
    try:
        return con.sql("SELECT * FROM detail.fct_interviews").pl()
    finally:
        con.close()


def test_pass_through_counts_every_round_once(fct):
    table = descriptive.pass_through(descriptive.view_rounds(fct.lazy()))
    by_status = rounds_by_status(fct.lazy()).collect()
    assert table["rounds"].sum() == fct.height
    assert table["advanced"].sum() == by_status.filter(
        pl.col("round_status") == "advanced")["rounds"].sum()  # fmt: skip
    assert table["withdrawn"].sum() == by_status.filter(
        pl.col("round_status") == "withdrawn")["rounds"].sum()  # fmt: skip
    first = table.row(0, named=True)
    assert first["round"] == "1" and first["enough_data"]
    assert first["pass_through"] == pytest.approx(first["advanced"] / first["decided"])
    assert first["pass_through_ci_low"] < first["pass_through"] < first["pass_through_ci_high"]
    assert table["round_number"].to_list() == sorted(table["round_number"].to_list())
    assert table["round_number"].max() <= descriptive.LAST_ROUND


def test_offer_rate_per_closed_application(fct):
    overall = descriptive.offer_rate_per_application(descriptive.view_rounds(fct.lazy())).row(
        0, named=True
    )
    apps = (
        rounds(fct.lazy())
        .group_by("firm_id", "application_key")
        .agg(
            (pl.col("outcome") == "offer").any().alias("offer"),
            (pl.col("round_status") == "not_advanced").any().alias("lost"),
            (pl.col("round_status") == "withdrawn").any().alias("withdrawn"),
        )
        .collect()
    )
    closed = apps.filter((pl.col("offer") | pl.col("lost")) & ~pl.col("withdrawn"))
    assert overall["applications"] == apps.height
    assert overall["closed"] == closed.height
    assert overall["offers"] == closed["offer"].sum()
    assert overall["offer_rate"] == pytest.approx(closed["offer"].mean())
    assert overall["closed"] + overall["withdrawn"] + overall["open"] == apps.height
    by = descriptive.offer_rate_per_application(descriptive.view_rounds(fct.lazy()), "seniority")
    assert by["applications"].sum() == apps.height


def test_advance_by_self_rating_is_the_raw_calibration(fct):
    table = descriptive.advance_by_self_rating(descriptive.view_rounds(fct.lazy()))
    analysable = rounds(fct.lazy()).filter(pl.col("advanced").is_not_null()).collect()
    assert table["rounds"].sum() == analysable.height
    four = table.filter(pl.col("self_rating") == 4).row(0, named=True)
    expected = analysable.filter(pl.col("self_rating") == 4)["advanced"].mean()
    assert four["advance_rate"] == pytest.approx(expected)


def test_rates_are_clustered_wilson_on_the_client_names(fct):
    """The views code clients as integers in name order: the figures clustered_wilson gives on
    the names themselves, exactly."""
    table = descriptive.advance_by_timing(descriptive.view_rounds(fct.lazy()))
    analysable = (
        rounds(fct.lazy())
        .filter(pl.col("advanced").is_not_null())
        .with_columns(timing_group().alias("timing_bin"))
        .collect()
    )
    assert table.height > 2
    for row in table.iter_rows(named=True):
        group = analysable.filter(pl.col("timing_bin").eq_missing(row["timing_bin"]))
        names = group.select(pl.concat_str("firm_id", "client_key", separator="/")).to_series()
        expected = descriptive.clustered_wilson(
            group["advanced"].cast(pl.Float64).to_numpy(), names.to_numpy()
        )
        for column in ("rounds", "clients", "design_effect"):
            assert row[column] == expected["n" if column == "rounds" else column]
        if row["enough_data"]:
            assert (row["advance_rate_ci_low"], row["advance_rate_ci_high"]) == (
                expected["rate_ci_low"],
                expected["rate_ci_high"],
            )
