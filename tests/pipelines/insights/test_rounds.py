"""Interviews as rounds: status, numbering, inferred advances, grouped labels (inline data)."""

from __future__ import annotations

from datetime import date

import polars as pl

from pipelines.insights.rounds import (
    GROUPED,
    industry_groups,
    label_counts,
    rounds,
    rounds_by_status,
    with_group,
)

BASE = {
    "firm_id": "north-star",
    "client_key": "c1",
    "has_application_ref": True,
    "round": None,
    "interview_date": date(2026, 3, 2),
    "outcome": None,
    "is_debrief_after_outcome": False,
    "versions_after_outcome": 0,
    "fit_question_kinds": [],
    "concerns_raised": [],
    "concerns_addressed": None,
    "asked_fit_question": False,
    "industry": "software",
    "role_family": "engineering",
}


def fct(*rows: dict) -> pl.LazyFrame:
    full = [
        BASE | {"interview_key": f"i{n}", "application_key": "a1"} | r for n, r in enumerate(rows)
    ]
    return pl.DataFrame(
        full, schema_overrides={"round": pl.Int64, "concerns_addressed": pl.Boolean}
    ).lazy()


def statuses(*rows: dict) -> list[tuple]:
    out = rounds(fct(*rows)).collect()
    return out.select("round_number", "round_status", "advanced", "is_advance_inferred").rows()


def test_outcomes_map_to_one_rounds_verdict():
    got = statuses(
        {"application_key": "a", "outcome": "offer"},
        {"application_key": "b", "outcome": "next_round"},
        {"application_key": "c", "outcome": "rejected"},
        {"application_key": "d", "outcome": "no_response"},
        {"application_key": "e", "outcome": "withdrawn"},
        {"application_key": "f", "outcome": None},
    )
    assert got == [
        (1, "advanced", True, False),
        (1, "advanced", True, False),
        (1, "not_advanced", False, False),
        (1, "not_advanced", False, False),
        (1, "withdrawn", None, False),
        (1, "pending", None, False),
    ]


def test_a_round_followed_by_a_later_round_advanced_even_without_an_outcome():
    # A firm that reports only the final result: rounds 1 and 2 have no outcome record.
    got = statuses(
        {"round": 1, "interview_date": date(2026, 3, 1)},
        {"round": 2, "interview_date": date(2026, 3, 9)},
        {"round": 3, "interview_date": date(2026, 3, 20), "outcome": "offer"},
    )
    assert got == [
        (1, "advanced", True, True),
        (2, "advanced", True, True),
        (3, "advanced", True, False),
    ]


def test_without_an_application_ref_nothing_is_inferred():
    got = statuses(
        {"application_key": "x", "has_application_ref": False},
        {"application_key": "y", "has_application_ref": False, "outcome": "rejected"},
    )
    assert [s[1] for s in got] == ["pending", "not_advanced"]


def test_rounds_are_numbered_by_date_when_the_firm_sends_no_round():
    got = statuses(
        {"interview_date": date(2026, 3, 20), "outcome": "rejected"},
        {"interview_date": date(2026, 3, 1), "outcome": "next_round"},
    )
    assert [(s[0], s[1]) for s in got] == [(2, "not_advanced"), (1, "advanced")]


def test_same_day_interviews_are_numbered_by_their_key_within_each_application():
    day, later = date(2026, 3, 1), date(2026, 3, 9)
    got = statuses(
        {"interview_date": later, "interview_key": "k1"},
        {"interview_date": day, "interview_key": "k3"},
        {"interview_date": day, "interview_key": "k2"},
        {"interview_date": day, "interview_key": "k0", "application_key": "a2"},
        {"interview_date": None, "interview_key": "k9"},  # no date: before every dated one
    )
    assert [s[0] for s in got] == [4, 3, 2, 1, 1]


def test_a_debrief_written_only_after_the_outcome_is_left_out():
    got = statuses({"outcome": "offer", "is_debrief_after_outcome": True})
    assert got == [(1, "debrief_after_outcome", None, False)]


def test_industry_spellings_are_grouped_and_rare_ones_pooled():
    spellings = ["Health Care"] * 20 + ["health-care"] * 20 + [" healthcare "] * 20
    spellings += ["Tech"] * 40 + ["Aerospace"] * 3
    groups = industry_groups(fct(*({"industry": s} for s in spellings))).collect()
    assert dict(groups.select("industry", "industry_group").iter_rows()) == {
        "Health Care": "healthcare",
        "health-care": "healthcare",
        " healthcare ": "healthcare",
        "Tech": "software",
        "Aerospace": "other",
    }


def test_a_group_under_its_share_of_all_interviews_and_a_missing_label_are_pooled():
    # 40 "Legal" interviews pass MIN_GROUP_ROWS (30) but not 0.5% of 10,000 (50); 60 pass both.
    spellings = ["Finance"] * 9_880 + ["Legal"] * 40 + ["Energy"] * 60 + [None] * 20
    groups = industry_groups(fct(*({"industry": s} for s in spellings))).collect()
    assert dict(groups.select("industry", "industry_group").iter_rows()) == {
        "Finance": "finance",
        "Legal": "other",
        "Energy": "energy",
        None: "other",
    }


def test_a_slice_grouped_by_the_wholes_counts_gets_the_wholes_groups():
    # "Energy" is common in the whole (60 of 100) but rare in a slice of 40 rows holding 10.
    spellings = ["Energy"] * 60 + ["Legal"] * 40
    rows = (
        {"industry": s, "role_family": s, "application_key": f"a{i}"}
        for i, s in enumerate(spellings)
    )
    whole = fct(*rows).with_row_index("n")  # a slice holds whole applications
    piece = whole.filter(pl.col("n") >= 50)
    counts = {label: label_counts(whole, label) for label in GROUPED}
    expected = rounds(whole).filter(pl.col("n") >= 50).collect()
    assert rounds(piece, counts).collect().select(expected.columns).equals(expected)
    own = rounds(piece).collect()  # grouped by the slice's own counts, Energy is pooled
    assert set(own["industry_group"]) == {"other", "legal"} != set(expected["industry_group"])


def test_groups_already_on_the_frame_are_regrouped_from_its_own_rows():
    # The dashboards group a firm's rows, then filter them and ask for rounds again.
    # Legal: 40 of 10,000 is under 0.5% (pooled), 40 of 40 is not.
    spellings = ["Energy"] * 9_960 + ["Legal"] * 40
    grouped = with_group(fct(*({"industry": s} for s in spellings)), "industry")
    assert set(grouped.filter(pl.col("industry") == "Legal").collect()["industry_group"]) == {
        "other"
    }
    legal = rounds(grouped.filter(pl.col("industry") == "Legal")).collect()
    assert [c for c in legal.columns if c.startswith("industry_group")] == ["industry_group"]
    assert set(legal["industry_group"]) == {"legal"}


def test_rounds_by_status_counts_what_is_left_out_and_why():
    out = rounds_by_status(
        fct(
            {"outcome": "offer", "versions_after_outcome": 2},
            {"application_key": "b", "outcome": "withdrawn"},
            {"application_key": "c", "client_key": "c2"},
        )
    ).collect()
    assert out.select("round_status", "rounds", "corrected_after_outcome", "is_used").rows() == [
        ("advanced", 1, 1, True),
        ("withdrawn", 1, 0, False),
        ("pending", 1, 0, False),
    ]
