"""Tables that read like a report (pure, no Streamlit): column headers in words with their
units, rates as percentages, differences in points, intervals as "[low, high]".

A layout is a list of ``Col``: the header a person reads and how to get the cell from a row. The
downloads keep the machine frame (snake_case names, 0-1 proportions, interval bounds in their
own columns); only what is drawn on the page goes through here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from dashboards.findings import interval, pct, pts

MISSING = "–"


@dataclass(frozen=True)
class Col:
    header: str
    cell: Callable[[dict], object]


def table(frame: pl.DataFrame, layout: Sequence[Col]) -> pl.DataFrame:
    """``frame`` as the layout's columns, one row per row, every cell text ("–" if missing)."""
    rows = frame.to_dicts()
    cells = {c.header: [c.cell(r) for r in rows] for c in layout}
    return pl.DataFrame(
        {h: [MISSING if v is None else str(v) for v in column] for h, column in cells.items()},
        schema=dict.fromkeys(cells, pl.String),
    )


# ------------------------------------------------------------------------------ columns
def text(header: str, column: str, words: dict | None = None) -> Col:
    """A label, optionally translated (``words``); machine values lose their underscores."""

    def cell(r: dict) -> str | None:
        v = r.get(column)
        if isinstance(v, bool):
            v = "yes" if v else "no"
        if v is None:
            return None
        if words and v in words:
            return words[v]
        return str(v).replace("_", " ")

    return Col(header, cell)


def number(header: str, column: str) -> Col:
    """A count with thousands separators ("1,311")."""
    return Col(header, lambda r: None if r.get(column) is None else f"{r[column]:,}")


def rate(header: str, column: str) -> Col:
    """A proportion as a percentage ("31%")."""
    return Col(f"{header} (%)", lambda r: None if r.get(column) is None else pct(r[column]))


def rate_interval(column: str, header: str = "95% interval") -> Col:
    """The 95% interval of ``column`` (``<column>_ci_low``/``_ci_high``) as "[27%, 35%]"."""
    return Col(
        f"{header} (%)",
        lambda r: (
            None
            if r.get(f"{column}_ci_low") is None
            else interval(r[f"{column}_ci_low"], r[f"{column}_ci_high"], pct)
        ),
    )


def points(header: str, column: str) -> Col:
    """A difference of proportions in percentage points ("+8")."""
    return Col(f"{header} (points)", lambda r: None if r.get(column) is None else pts(r[column]))


def points_interval(low: str = "ci_low", high: str = "ci_high") -> Col:
    return Col(
        "95% interval (points)",
        lambda r: None if r.get(low) is None else interval(r[low], r[high]),
    )


def q_value(header: str = "q-value (corrected)", column: str = "q_value") -> Col:
    def cell(r: dict) -> str | None:
        q = r.get(column)
        if q is None:
            return None
        return "< 0.001" if q < 0.001 else f"{q:.3f}"

    return Col(header, cell)


def yes_no(header: str, column: str) -> Col:
    return Col(header, lambda r: None if r.get(column) is None else ("yes" if r[column] else "no"))


def date_text(header: str, column: str, fmt: str = "%Y-%m-%d") -> Col:
    return Col(header, lambda r: None if r.get(column) is None else f"{r[column]:{fmt}}")


def listed(header: str, column: str) -> Col:
    """A list column as "a, b" (underscores to spaces)."""
    return Col(
        header,
        lambda r: (
            None
            if r.get(column) is None
            else ", ".join(str(v).replace("_", " ") for v in r[column])
        ),
    )


# ------------------------------------------------------------------------------ estimates
def estimates_layout(id_column: str, id_header: str, labels: dict[str, str]) -> list[Col]:
    """The columns of a tactic_estimates / hypothesis_tests table as a report."""
    from dashboards.findings import ESTIMAND_LABELS, METHOD_LABELS

    return [
        text(id_header, id_column, labels),
        text("Outcome", "estimand", ESTIMAND_LABELS),
        text("Method", "method", METHOD_LABELS),
        points("Difference", "estimate"),
        points_interval(),
        number("Rounds with", "n_treated"),
        number("Rounds without", "n_control"),
        number("Clients", "n_clients"),
        q_value(),
        text("Verdict", "status"),
    ]
