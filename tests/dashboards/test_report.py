"""Tables that read like a report: words for headers, percentages, points, "[low, high]"."""

from __future__ import annotations

import re

import polars as pl

from dashboards import report
from dashboards.findings import TACTIC_LABELS


def test_rates_counts_and_intervals_read_as_words():
    frame = pl.DataFrame(
        {
            "round": ["1", "5"],
            "decided": [1186, 9],
            "pass_through": [0.509275, None],
            "pass_through_ci_low": [0.478712, None],
            "pass_through_ci_high": [0.539769, None],
            "addressed": [True, None],
        }
    )
    out = report.table(
        frame,
        [
            report.text("Round", "round"),
            report.number("Decided by the employer", "decided"),
            report.rate("Pass-through", "pass_through"),
            report.rate_interval("pass_through"),
            report.yes_no("Addressed", "addressed"),
        ],
    )
    assert out.columns == [
        "Round",
        "Decided by the employer",
        "Pass-through (%)",
        "95% interval (%)",
        "Addressed",
    ]
    assert out.rows() == [
        ("1", "1,186", "51%", "[48%, 54%]", "yes"),
        ("5", "9", "–", "–", "–"),
    ]


def test_estimates_layout_has_no_machine_names():
    row = {
        "tactic": "asked_about_concerns",
        "estimand": "advance",
        "method": "within_client",
        "estimate": 0.0812,
        "ci_low": 0.061,
        "ci_high": 0.1049,
        "n_treated": 1900,
        "n_control": 2310,
        "n_clients": 410,
        "q_value": 0.0004,
        "status": "finding",
    }
    out = report.table(
        pl.DataFrame([row]), report.estimates_layout("tactic", "Tactic", TACTIC_LABELS)
    )
    assert not [c for c in out.columns if re.search(r"[a-z]_[a-z]", c)]
    assert out.row(0) == (
        "Asking about concerns",
        "chance of getting past the round",
        "same client",
        "+8",
        "[+6, +10]",
        "1,900",
        "2,310",
        "410",
        "< 0.001",
        "finding",
    )
