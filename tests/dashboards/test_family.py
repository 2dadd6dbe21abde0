"""The family of views a filtered view belongs to (pure)."""

from __future__ import annotations

from datetime import date

from dashboards.data import Filters
from dashboards.family import date_windows, family

OPTIONS = {
    "firms": ["a", "b", "c"],
    "industries": ["finance", "software"],
    "stages": ["phone_screen", "recruiter", "hiring_manager", "panel", "final", "other"],
    "seniorities": ["entry", "mid", "senior", "lead", "executive"],
    "dates": (date(2025, 1, 1), date(2025, 12, 31)),
}
ALL_DATES = {"date_from": date(2025, 1, 1), "date_to": date(2025, 12, 31)}


def test_nothing_narrowed_is_no_family():
    for filters in (
        Filters(),
        Filters(**ALL_DATES),
        Filters(firms=("a", "b", "c"), **ALL_DATES),  # every option chosen narrows nothing
    ):
        fam = family(filters, OPTIONS)
        assert not fam.is_filtered and fam.size == 1 and not fam.cells


def test_one_stage_is_one_of_six():
    view = Filters(stages=("final",), **ALL_DATES)
    fam = family(view, OPTIONS)
    assert fam.is_filtered and fam.exhaustive and not fam.is_combination
    assert fam.size == 6 and fam.describe() == "6 stages"
    assert len(fam.cells) == 5 and view not in fam.cells
    assert {c.stages for c in fam.cells} == {(s,) for s in OPTIONS["stages"] if s != "final"}
    assert all(c.date_from == date(2025, 1, 1) for c in fam.cells)


def test_a_union_of_levels_is_a_view_of_its_own():
    fam = family(Filters(stages=("final", "panel")), OPTIONS)
    assert fam.is_combination and fam.size == 7 and len(fam.cells) == 6


def test_two_dimensions_cross():
    fam = family(Filters(stages=("final",), seniorities=("senior",)), OPTIONS)
    assert fam.size == 30 and fam.exhaustive and len(fam.cells) == 29
    assert fam.describe() == "6 stages × 5 seniorities"


def test_too_many_views_estimates_the_near_ones_only():
    view = Filters(firms=("a",), stages=("final",), seniorities=("senior",))
    fam = family(view, OPTIONS, max_cells=36)
    assert fam.size == 90 and not fam.exhaustive
    # One change away: 2 other firms + 5 other stages + 4 other seniorities.
    assert len(fam.cells) == 11
    assert all(
        sum(getattr(c, f) != getattr(view, f) for f in ("firms", "stages", "seniorities")) == 1
        for c in fam.cells
    )


def test_date_windows_tile_the_span_with_the_chosen_one():
    windows = date_windows(
        date(2025, 1, 1), date(2025, 12, 31), date(2025, 4, 1), date(2025, 6, 29)
    )
    assert (date(2025, 4, 1), date(2025, 6, 29)) in windows
    assert windows[0][0] <= date(2025, 1, 1) and windows[-1][1] >= date(2025, 12, 31)
    assert all((b - a).days == 89 for a, b in windows)
    assert len(windows) == 5
    fam = family(Filters(date_from=date(2025, 4, 1), date_to=date(2025, 6, 29)), OPTIONS)
    assert fam.size == 5 and fam.describe() == "5 windows of 90 days"
