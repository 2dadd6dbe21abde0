"""Shared page helpers that are plain functions."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from dashboards import ui


def test_csv_keeps_interval_columns_and_flattens_lists():
    frame = pl.DataFrame(
        {
            "concern": ["skills_gap"],
            "kinds": [["concerns", "comparison"]],
            "offer_rate": [0.25],
            "offer_rate_ci_low": [0.2],
            "offer_rate_ci_high": [0.3],
        }
    )
    text = ui.csv_bytes(frame).decode()
    assert text.splitlines() == [
        '"concern","kinds","offer_rate","offer_rate_ci_low","offer_rate_ci_high"',
        '"skills_gap","concerns; comparison",0.25,0.2,0.3',
    ]


def test_csv_quotes_text_that_would_run_as_a_formula_and_keeps_negative_numbers():
    frame = pl.DataFrame(
        {
            "industry": ["=cmd|' /C calc'!A0", "software"],
            "kinds": [["@x", "y"], ["z"]],
            "adj_diff": [-0.012, 0.093],
        }
    )
    assert ui.csv_bytes(frame).decode().splitlines() == [
        '"industry","kinds","adj_diff"',
        """"'=cmd|' /C calc'!A0","'@x; y",-0.012""",
        '"software","z",0.093',
    ]


def test_age_text():
    assert ui.age_text(None) == "unknown age"
    assert ui.age_text(timedelta(seconds=20)) == "less than a minute old"
    assert ui.age_text(timedelta(minutes=42)) == "42 min old"
    assert ui.age_text(timedelta(hours=5, minutes=3)) == "5 h 3 min old"
    assert ui.age_text(timedelta(days=3, hours=1)) == "3 days old"


def test_palette_is_okabe_ito_in_order():
    scale = ui.palette(["crude", "adjusted"]).to_dict()
    assert scale == {"domain": ["crude", "adjusted"], "range": ["#0072B2", "#E69F00"]}
