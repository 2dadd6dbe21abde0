"""CSV that a spreadsheet opens as data, never as a formula (OWASP, "CSV Injection").

Firm-supplied text (industry, role family, file names, ...) reaches CSV downloads and exports. A
cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by Excel,
LibreOffice or Google Sheets; a leading single quote makes it text, and spreadsheets do not show
the quote. Only text cells are touched: numbers keep their sign and stay numbers, and DuckDB and
Parquet outputs keep every value exact (they are never read as formulas).
"""

from __future__ import annotations

import polars as pl

FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_START = r"^[=+\-@\t\r]"  # the same, for Polars
TEXT_TYPES = (pl.String, pl.Categorical, pl.Enum)


def neutralise_text(text: str) -> str:
    """One cell or column name: quoted when a spreadsheet would run it."""
    return f"'{text}" if text.startswith(FORMULA_CHARS) else text


def neutralised(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every text cell and column name that would run as a formula quoted."""
    text = [name for name, dtype in frame.schema.items() if isinstance(dtype, TEXT_TYPES)]
    safe = frame.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.contains(FORMULA_START))
        .then(pl.lit("'") + pl.col(c).cast(pl.String))
        .otherwise(pl.col(c).cast(pl.String))
        .alias(c)
        for c in text
    )
    return safe.rename({c: neutralise_text(c) for c in safe.columns})


def safe_csv(frame: pl.DataFrame) -> str:
    """`frame.write_csv()`, safe to open in a spreadsheet. Every field but a number is quoted,
    as OWASP advises: a spreadsheet set to split on `;` (many locales) would otherwise start a
    new cell, and so a formula, inside a text like `Sales;=1+1`."""
    return neutralised(frame).write_csv(quote_style="non_numeric")
