"""CSV safe to open in a spreadsheet: text that would run as a formula is quoted, nothing else."""

from __future__ import annotations

import csv
import io

import polars as pl

from warehouse.csv_safe import neutralised, safe_csv

TRIGGERS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1"]


def test_text_cells_that_start_a_formula_get_a_leading_quote():
    frame = pl.DataFrame({"industry": [*TRIGGERS, "software", "a=b", "", None]})
    assert neutralised(frame)["industry"].to_list() == [
        *(f"'{t}" for t in TRIGGERS),
        "software",
        "a=b",
        "",
        None,
    ]


def test_numbers_dates_and_booleans_are_left_as_they_are():
    frame = pl.DataFrame(
        {
            "diff": [-0.093, 0.5],
            "n": [-3, 4],
            "day": pl.Series(["2026-03-01", "2026-03-02"]).str.to_date(),
            "flag": [True, False],
        }
    )
    assert neutralised(frame).equals(frame)
    assert safe_csv(frame).splitlines()[1] == '-0.093,-3,"2026-03-01","true"'


def test_every_field_but_a_number_is_quoted():
    # A spreadsheet splitting on ";" would otherwise find a formula inside the text.
    text = safe_csv(pl.DataFrame({"industry": ["Sales;=1+1"], "n": [-2]}))
    assert text.splitlines() == ['"industry","n"', '"Sales;=1+1",-2']


def test_categorical_cells_and_column_names_are_text_too():
    frame = pl.DataFrame(
        {"=HYPERLINK(1)": pl.Series(["-x", "y"], dtype=pl.Categorical), "ok": [1, 2]}
    )
    rows = list(csv.reader(io.StringIO(safe_csv(frame))))
    assert rows == [["'=HYPERLINK(1)", "ok"], ["'-x", "1"], ["y", "2"]]


def test_the_frame_itself_is_not_changed():
    frame = pl.DataFrame({"industry": ["=1+1"]})
    safe_csv(frame)
    assert frame["industry"].to_list() == ["=1+1"]
