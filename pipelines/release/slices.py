"""Slices of ``fct_interviews`` that the publish works through one at a time, so that Polars never
holds every interview: ranges of a pseudonym column's leading hex digits. Pseudonyms are HMAC
hex, so the ranges split them evenly; any text falls in exactly one range all the same."""

from __future__ import annotations

import functools
import operator

import polars as pl

SLICE_ROUNDS = 500_000  # interviews per slice


def slice_count(fct: pl.LazyFrame) -> int:
    """How many slices of about SLICE_ROUNDS interviews ``fct`` needs (1 to 256)."""
    interviews = fct.select(pl.len()).collect().item()
    return min(256, max(1, -(-interviews // SLICE_ROUNDS)))


def key_ranges(column: str, n: int) -> list[pl.Expr]:
    """``n`` predicates on ``column`` that every row meets exactly one of (``n`` <= 256). Plain
    comparisons, so a DuckDB-backed frame filters in DuckDB."""
    bounds = [f"{256 * i // n:02x}" for i in range(1, n)]
    key = pl.col(column)
    ranges = []
    for lo, hi in zip([None, *bounds], [*bounds, None], strict=True):
        ends = [c for c in (lo and key >= lo, hi and key < hi) if c is not None]
        ranges.append(functools.reduce(operator.and_, ends) if ends else pl.lit(True))
    if n > 1:  # a missing key compares to nothing: the first range takes it
        ranges[0] = ranges[0] | key.is_null()
    return ranges
