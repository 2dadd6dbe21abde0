"""GX checks on the marts: pass on a real build, catch each kind of broken mart."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from pipelines.insights.mart_checks import MartCheckFailed, check_marts


@pytest.fixture(scope="module")
def warehouse(built_home):
    return built_home.warehouse_path


@pytest.fixture
def built(warehouse, tmp_path):
    """A private copy of the built warehouse (tests break it on purpose)."""
    copy = tmp_path / "w.duckdb"
    shutil.copy(warehouse, copy)
    con = duckdb.connect(str(copy))
    yield con
    con.close()


def test_real_marts_pass_every_check(built, settings):
    results = check_marts(built, settings.quality_dir / "marts")
    tables = {r.table for r in results}
    assert {"fct_interviews", "tactic_estimates", "hypothesis_tests", "funnel_by_stage"} <= tables
    assert any(r.expectation == "expect_compound_columns_to_be_unique" for r in results)
    assert any(
        r.expectation == "expect_column_pair_values_a_to_be_greater_than_b"
        and r.table == "tactic_estimates"
        for r in results
    )
    assert list((settings.quality_dir / "marts").glob("marts-*.json"))


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "UPDATE marts.tactic_estimates SET ci_high = estimate - 0.01 WHERE enough_data",
            "tactic_estimates: expect_column_pair_values_a_to_be_greater_than_b",
        ),
        (
            "UPDATE marts.perception_gap SET offer_rate = 1.5 WHERE enough_data",
            "perception_gap: expect_column_values_to_be_between(offer_rate)",
        ),
        (
            "INSERT INTO marts.funnel_by_stage SELECT * FROM marts.funnel_by_stage LIMIT 1",
            "funnel_by_stage: expect_column_values_to_be_unique(stage)",
        ),
    ],
)
def test_broken_marts_are_caught(built, sql, message):
    built.execute(sql)
    with pytest.raises(MartCheckFailed, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_marts(built)
