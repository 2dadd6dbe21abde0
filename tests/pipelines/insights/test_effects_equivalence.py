"""The estimate marts equal the previous implementation's (row-level sparse designs and
``fit_ols`` per fit, commit 9a6e211), whose outputs on two generated populations are kept in
``effects_expected/``: counts, flags and labels exactly, figures to 1e-12 (the
coefficients come from the same integer normal equations; only the sums of the cluster scores
are taken in another order; every figure is a probability or a difference of two, so 1e-12
absolute bounds an interval end that is near 0)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.insights.effects import (
    dense_codes,
    estimate_tables,
    hypothesis_tests,
    tactic_estimates,
)
from tests.pipelines.insights.test_effects import population

EXPECTED = Path(__file__).parent / "effects_expected"
POPULATIONS = ((300, 0), (1500, 5))


def assert_equivalent(table: pl.DataFrame, expected: pl.DataFrame, rtol: float = 1e-12) -> None:
    assert table.schema == expected.schema and table.height == expected.height
    for column in table.columns:
        got, want = table.get_column(column), expected.get_column(column)
        if got.dtype != pl.Float64:
            assert got.equals(want), column
            continue
        assert got.is_null().equals(want.is_null()), column
        np.testing.assert_allclose(
            got.to_numpy(), want.to_numpy(), rtol=rtol, atol=rtol, err_msg=column
        )


@pytest.mark.parametrize(("clients", "seed"), POPULATIONS)
def test_estimate_marts_equal_the_previous_implementation(clients, seed):
    fct = population(clients, seed)
    tables = estimate_tables(fct)
    for name in ("tactic_estimates", "hypothesis_tests"):
        expected = pl.read_parquet(EXPECTED / f"{name}_{clients}_{seed}.parquet")
        assert_equivalent(tables[name], expected)
    # The lazy marts (dashboards, calibration) give the very same tables.
    assert tactic_estimates(fct.lazy()).collect().equals(tables["tactic_estimates"])
    assert hypothesis_tests(fct.lazy()).collect().equals(tables["hypothesis_tests"])


def test_codes_are_the_dense_rank_of_the_values():
    """Text is coded through an Enum of its sorted values, not by ranking every row: the same
    codes (which level is dropped, and so the parametrisation, depends on them)."""
    rng = np.random.default_rng(0)
    words = ["b", "a", "", "Zeta", "zeta", "é", "a b", "10", "9"]
    frame = pl.DataFrame(
        {
            "text": [
                None if r < 0.1 else words[int(r * 100) % len(words)] for r in rng.random(500)
            ],
            "number": pl.Series(rng.integers(0, 7, 500)).scatter([3, 9], None),
        }
    )
    for column in frame.columns:
        rank = frame.get_column(column).rank("dense").fill_null(0).cast(pl.Int64).to_numpy() - 1
        assert np.array_equal(dense_codes(frame, column), rank), column
    # With the levels of a larger whole, a part is coded as the whole would code its rows.
    whole = pl.concat([frame, pl.DataFrame({"text": ["zz", "0"], "number": [-4, 12]})])
    for column in frame.columns:
        levels = whole.get_column(column).drop_nulls().unique().sort()
        expected = dense_codes(whole, column)[: frame.height]
        assert np.array_equal(dense_codes(frame, column, levels), expected), column


@pytest.mark.parametrize(("clients", "seed"), POPULATIONS)
def test_round_marts_from_parts_of_the_clients_equal_those_from_all(clients, seed, tmp_path):
    """Counts, flags and labels exactly; figures to 1e-9 (the same sums, added part by part),
    with firms and label groups that some parts lack; ``rounds_by_status`` exactly."""
    from pipelines.insights.effects import client_part, round_marts
    from pipelines.insights.rounds import rounds, rounds_by_status

    client = pl.col("client_key")
    # A firm of one client; a label of ten, a group in the whole but too small in any part;
    # rare labels of other clients, pooled as "other" in the whole.
    ten = client.is_in([f"c{c}" for c in range(1, 11)])
    rare = client.str.slice(1).cast(pl.Int64) % 20 == 19
    fct = population(clients, seed).with_columns(
        pl.when(client == "c0").then(pl.lit("firm-solo")).otherwise("firm_id").alias("firm_id"),
        pl.when(ten)
        .then(pl.lit("Health Care"))
        .when(rare)
        .then(pl.lit("zoo ") + client)
        .otherwise("industry")
        .alias("industry"),
    )
    groups = rounds(fct.lazy()).collect()["industry_group"].to_list()
    assert "healthcare" in groups and "other" in groups
    parts = fct.select(client_part(4).alias("part")).get_column("part")
    assert parts.n_unique() == 4
    # Every client in one part.
    assert (
        fct.with_columns(parts)
        .group_by("firm_id", "client_key")
        .agg(pl.col("part").n_unique())["part"]
        .max()
        == 1
    )
    whole = estimate_tables(fct)
    in_parts = round_marts(fct.lazy(), 4, tmp_path)
    status = rounds_by_status(fct.lazy()).collect()
    assert in_parts["rounds_by_status"].equals(status) and status["clients"].sum() > clients
    for name in ("tactic_estimates", "hypothesis_tests"):
        assert_equivalent(in_parts[name], whole[name], rtol=1e-9)
        assert in_parts[name]["estimate"].is_not_null().sum() > 20
        assert "firm=firm-solo" in in_parts[name]["segment"].to_list()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"rounds-{p}.parquet" for p in range(4)]
