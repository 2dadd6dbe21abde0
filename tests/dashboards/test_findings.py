"""The home page's verdicts and sentences (pure functions, no Streamlit)."""

from __future__ import annotations

import polars as pl
import pytest

from dashboards import findings
from pipelines.effects import OUTPUT_SCHEMA


def effect_row(tactic="asked_about_concerns", segment="all", **values) -> dict:
    row = {c: None for c in OUTPUT_SCHEMA.names()}
    row |= {
        "tactic": tactic,
        "segment": segment,
        "segment_kind": "all" if segment == "all" else segment.split("=")[0],
        "n_with": 1900,
        "n_without": 2310,
        "offers_with": 589,
        "offers_without": 508,
        "rate_with": 0.31,
        "rate_without": 0.22,
        "diff": 0.09,
        "diff_ci_low": 0.05,
        "diff_ci_high": 0.13,
        "adj_diff": 0.07,
        "adj_ci_low": 0.03,
        "adj_ci_high": 0.11,
        "p_value": 0.001,
        "q_value": 0.004,
        "enough_data": True,
    }
    return row | values


def frame(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=OUTPUT_SCHEMA)


def test_a_finding_reads_like_the_issue_example():
    text = findings.sentence(effect_row(), comparisons=12)
    assert text.startswith(
        "Clients who asked about concerns got offers 31% of the time vs 22% "
        "(+9 pts, 95% CI +5 to +13, n=4,210)."
    )
    assert "Adjusted for stage, seniority, industry and experience: +7 pts (95% CI +3 to +11)" in (
        text
    )
    assert "A finding (q = 0.004 after correcting for 12 comparisons)" in text


def test_not_surviving_the_correction_is_labelled_not_a_finding():
    row = effect_row(p_value=0.03, q_value=0.08)
    assert findings.status(row) == findings.CHANCE
    text = findings.sentence(row, comparisons=12)
    assert text.startswith("Not a finding, could be chance (q = 0.08")
    assert "A finding" not in text


def test_q_exactly_alpha_is_not_a_finding():
    assert findings.status(effect_row(q_value=0.05)) == findings.CHANCE


def test_below_min_n_shows_counts_only():
    row = effect_row(n_with=12, n_without=25, enough_data=False, rate_with=None, q_value=None)
    assert findings.status(row) == findings.NOT_ENOUGH
    assert findings.sentence(row, comparisons=0) == (
        "Clients who asked about concerns: not enough data (n < 30 per arm: 12 with, 25 without)."
    )


def test_enough_data_without_an_adjusted_estimate_is_not_a_finding():
    row = effect_row(adj_diff=None, adj_ci_low=None, adj_ci_high=None, p_value=None, q_value=None)
    assert findings.status(row) == findings.NOT_ESTIMABLE
    assert findings.sentence(row, 3).startswith("Not a finding: Clients who asked about concerns")


@pytest.mark.parametrize(
    ("value", "text"), [(0.0912, "+9"), (-0.031, "-3"), (0.004, "0"), (-0.004, "0"), (None, "–")]
)
def test_points_are_signed_and_never_minus_zero(value, text):
    assert findings.pts(value) == text


def test_ranking_puts_findings_first_then_chance_then_not_enough_data():
    table = findings.ranked(
        frame(
            effect_row("asked_fit_question", adj_diff=0.12, q_value=0.2, p_value=0.1),
            effect_row("asked_about_concerns", adj_diff=0.05),
            effect_row("asked_how_compare", adj_diff=0.08),
            effect_row(
                "addressed_concerns", enough_data=False, adj_diff=None, p_value=None, q_value=None
            ),
            effect_row("asked_about_concerns", segment="stage=final", p_value=0.2, q_value=0.3),
        )
    )
    assert table.get_column("tactic").to_list() == [
        "asked_how_compare",
        "asked_about_concerns",
        "asked_fit_question",
        "addressed_concerns",
    ]
    assert table.get_column("rank").to_list() == [1, 2, 3, 4]
    assert table.get_column("status").to_list() == [
        findings.FINDING,
        findings.FINDING,
        findings.CHANCE,
        findings.NOT_ENOUGH,
    ]
    # The correction counts every test of the table, segments included (4 p-values here).
    assert "correcting for 4 comparisons" in table.get_column("sentence")[0]


def test_benchmark_shows_suppressed_rows_as_suppressed_and_only_the_all_segment():
    research = frame(
        effect_row("asked_fit_question"),
        effect_row("asked_how_compare", n_with=None, n_without=None, adj_diff=None, q_value=None),
        effect_row("asked_fit_question", segment="firm=north-star"),
    ).with_columns(is_suppressed=pl.Series([False, True, False]))
    bench = findings.benchmark(research, k=5)
    assert bench.height == 2
    assert bench.get_column("status").to_list() == [
        findings.FINDING,
        "suppressed (fewer than 5 clients)",
    ]
    assert bench.row(1, named=True)["n_with"] is None
