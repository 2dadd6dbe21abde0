"""What the estimates say in plain words (pure functions, no Streamlit)."""

from __future__ import annotations

import polars as pl
import pytest

from dashboards import findings
from pipelines.insights.effects import HYPOTHESIS_SCHEMA, TACTIC_SCHEMA, TACTICS

FORBIDDEN = ("cause", "increase", "raises", "boost", "improve", "effect of")


def est(tactic="asked_about_concerns", method="within_client", estimand="advance", **values):
    row = {c: None for c in TACTIC_SCHEMA.names()}
    row |= {
        "tactic": tactic,
        "estimand": estimand,
        "method": method,
        "segment_kind": "all",
        "segment": "all",
        "estimate": 0.08,
        "std_error": 0.01,
        "ci_low": 0.06,
        "ci_high": 0.10,
        "n_treated": 1900,
        "n_control": 2310,
        "n_clients": 410,
        "p_value": 0.0001,
        "q_value": 0.004,
        "family": "confirmatory",
        "is_finding": True,
        "enough_data": True,
    }
    return row | values


def frame(*rows: dict, schema=TACTIC_SCHEMA) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=schema)


def test_the_issue_example_word_for_word():
    text = findings.claim(est(), "asked_about_concerns")
    assert text == (
        "In the same client's rounds, asking about concerns went with getting past the round "
        "8 points more often [+6, +10]."
    )


@pytest.mark.parametrize("method", ["crude", "adjusted", "within_client"])
@pytest.mark.parametrize("estimand", ["advance", "application_offer"])
def test_sentences_never_claim_a_cause(method, estimand):
    for tactic in TACTICS:
        text = findings.sentence(est(tactic, method, estimand), tactic, 30).lower()
        assert not [w for w in FORBIDDEN if w in text], text
        assert "[+6, +10]" in text


def test_each_method_says_what_it_held_fixed():
    assert findings.claim(est(method="crude"), "asked_about_concerns").startswith(
        "Across all rounds, nothing held fixed,"
    )
    assert findings.claim(est(method="adjusted"), "asked_about_concerns").startswith(
        "Among rounds alike in everything recorded,"
    )
    crude_app = findings.claim(
        est(method="crude", estimand="application_offer"), "asked_about_concerns"
    )
    assert "any round" in crude_app and "biased in its favour" in crude_app
    adjusted_app = findings.claim(
        est(method="adjusted", estimand="application_offer"), "asked_about_concerns"
    )
    assert adjusted_app.endswith("(if done in every round vs in none).")


@pytest.mark.parametrize(
    ("value", "words"),
    [(0.08, "8 points more often"), (-0.031, "3 points less often"),
     (0.004, "about as often (0 points)"), (0.01, "1 point more often")],
)  # fmt: skip
def test_direction_and_size_in_words(value, words):
    assert words in findings.claim(est(estimate=value), "asked_how_compare")


def test_verdicts_follow_is_finding_and_enough_data():
    assert findings.status(est()) == findings.FINDING
    assert findings.status(est(is_finding=False, q_value=0.2)) == findings.CHANCE
    assert findings.status(est(enough_data=False, estimate=None)) == findings.NOT_ENOUGH
    text = findings.sentence(est(is_finding=False, q_value=0.2), "asked_how_compare", 30)
    assert text.endswith("Could be chance (q = 0.2 after correcting for 30 comparisons).")
    short = findings.sentence(
        est(enough_data=False, estimate=None, n_treated=12, n_control=25, n_clients=9),
        "asked_how_compare",
        0,
    )
    assert short == (
        "Asking how they compare: not enough data (12 rounds with, 25 without, 9 clients; the "
        "estimate needs 30 rounds in each arm and 20 clients)."
    )


def test_headline_is_within_client_where_it_has_enough_data_else_adjusted():
    rows = frame(
        est("asked_about_concerns", "crude", estimate=0.2),
        est("asked_about_concerns", "adjusted", estimate=0.1),
        est("asked_about_concerns", "within_client", estimate=0.08),
        est("asked_how_compare", "adjusted", estimate=0.03),
        est("asked_how_compare", "within_client", estimate=None, enough_data=False),
    )
    top = findings.headline(rows, "tactic").sort("tactic")
    assert top.select("tactic", "method", "is_headline_fallback").rows() == [
        ("asked_about_concerns", "within_client", False),
        ("asked_how_compare", "adjusted", True),
    ]
    caption = findings.method_caption(findings.ranked(rows))
    assert "same-client comparison for one tactic" in caption
    assert "adjusted comparison for asking how they compare" in caption


def test_ranking_by_headline_estimate_without_the_union():
    rows = frame(
        est("asked_fit_question", estimate=0.3),
        est("asked_about_concerns", estimate=0.08),
        est("asked_about_ideal_candidate", estimate=0.02, is_finding=False),
        est("asked_how_compare", estimate=0.11),
        est("addressed_concerns", estimate=None, enough_data=False),
        est("addressed_concerns", "adjusted", estimate=None, enough_data=False),
        est("asked_how_compare", estimand="application_offer", estimate=0.5),
    )
    ranking = findings.ranked(rows)
    assert ranking.get_column("tactic").to_list() == [
        "asked_how_compare",
        "asked_about_concerns",
        "asked_about_ideal_candidate",
        "addressed_concerns",
    ]
    assert ranking.get_column("rank").to_list() == [1, 2, 3, 4]
    assert ranking.get_column("status").to_list() == [
        findings.FINDING,
        findings.FINDING,
        findings.CHANCE,
        findings.NOT_ENOUGH,
    ]
    union = findings.union_row(rows)
    assert union.get_column("tactic").to_list() == ["asked_fit_question"]
    assert "asking any of the three fit questions" in union.get_column("sentence")[0]


def hyp(hypothesis, method="within_client", **values):
    row = est(method=method, **values)
    del row["tactic"]
    return row | {"hypothesis": hypothesis, "n": row["n_treated"] + row["n_control"]} | values


def test_hypothesis_cards_answer_in_plain_words():
    rows = frame(
        hyp("ask_late", "crude", estimate=0.12),
        hyp("ask_late", "adjusted", estimate=0.1),
        hyp("ask_late"),
        hyp("self_rating_predicts", "adjusted", estimate=0.01, is_finding=False, q_value=0.7),
        hyp("self_rating_predicts", estimate=-0.05, q_value=0.01),
        hyp("rapport_first", "adjusted", estimate=None, enough_data=False),
        hyp("rapport_first", estimate=None, enough_data=False),
        schema=HYPOTHESIS_SCHEMA,
    )
    late = findings.card(rows, "ask_late")
    assert late.question == "Should I wait until late in the interview to ask my fit question?"
    assert late.answer == findings.SUPPORTED
    assert late.method == "same client"
    assert late.estimate == "+8 points [+6, +10]"
    assert late.population.startswith("4,210 rounds of 410 clients")
    assert late.other_methods == "crude +12 points [+6, +10] · adjusted +10 points [+6, +10]"
    assert late.verdict.startswith("A finding (q = 0.004")
    # A finding against the advice is no support for it.
    assert findings.card(rows, "self_rating_predicts").answer == findings.NOT_SUPPORTED
    rapport = findings.card(rows, "rapport_first")
    assert rapport.answer == findings.NOT_ENOUGH and rapport.estimate == "–"
    assert rapport.sentence.startswith("Not enough data: 1,900 rounds with")
    assert findings.card(rows, "warm_prospects").answer == findings.NOT_ENOUGH


def test_every_seed_hypothesis_has_a_question():
    from pipelines.insights.effects import HYPOTHESES

    assert set(findings.HYPOTHESES) == set(HYPOTHESES)
    assert all(h.question.endswith("?") for h in findings.HYPOTHESES.values())


@pytest.mark.parametrize(
    ("value", "text"), [(0.0912, "+9"), (-0.031, "-3"), (0.004, "0"), (-0.004, "0"), (None, "–")]
)
def test_points_are_signed_and_never_minus_zero(value, text):
    assert findings.pts(value) == text


def test_intervals_read_as_brackets():
    assert findings.interval(0.06, 0.1) == "[+6, +10]"
    assert findings.interval(0.27, 0.351, findings.pct) == "[27%, 35%]"
    assert findings.interval(None, 0.1) == "–"


def test_benchmark_shows_suppressed_rows_as_suppressed_and_only_headlines():
    research = frame(
        est("asked_about_concerns", "adjusted"),
        est("asked_about_concerns", "within_client"),
        est("asked_how_compare", "adjusted", estimate=None, enough_data=None, is_finding=None),
        est("asked_how_compare", "within_client", estimate=None, enough_data=None),
        est("asked_how_compare", "crude"),
    ).with_columns(is_suppressed=pl.Series([False, False, True, True, False]))
    bench = findings.benchmark(research, k=5)
    assert bench.select("tactic", "method", "status").rows() == [
        ("asked_about_concerns", "within_client", findings.FINDING),
        ("asked_how_compare", "adjusted", "suppressed (fewer than 5 clients)"),
    ]


def test_a_shrunk_estimate_says_what_the_view_alone_says():
    row = est(raw_estimate=0.12, raw_ci_low=0.01, raw_ci_high=0.23, is_finding=False, q_value=0.3)
    text = findings.sentence(row, "asked_about_concerns", 180)
    assert text == (
        "In the same client's rounds, asking about concerns went with getting past the round 8 "
        "points more often [+6, +10] (pooled with the other views; this view alone: +12 [+1, "
        "+23]). Could be chance (q = 0.3 after correcting for 180 comparisons)."
    )
    # The raw view (the toggle): nothing to add.
    raw = est(raw_estimate=0.08, raw_ci_low=0.06, raw_ci_high=0.1)
    assert "pooled" not in findings.sentence(raw, "asked_about_concerns", 180)
