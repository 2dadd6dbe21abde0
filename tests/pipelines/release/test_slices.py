"""Key ranges: every row in exactly one slice, whatever its key (inline data)."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.release.slices import key_ranges, slice_count


@pytest.mark.parametrize("n", [1, 2, 7, 256])
def test_every_key_falls_in_exactly_one_range(n):
    keys = ["00", "0f3a", "7fff", "80", "ab12", "ff", "fff0", "", "G-1", "Zz", "é", None]
    frame = pl.DataFrame({"k": keys})
    ranges = key_ranges("k", n)
    hits = frame.with_columns(
        r.fill_null(False).cast(pl.Int32).alias(f"r{i}") for i, r in enumerate(ranges)
    ).drop("k")
    assert hits.width == n
    assert hits.sum_horizontal().to_list() == [1] * len(keys)


def test_hex_keys_split_evenly():
    keys = pl.DataFrame({"k": [f"{i:04x}" for i in range(65_536)]})
    sizes = [keys.filter(r).height for r in key_ranges("k", 8)]
    assert sizes == [8_192] * 8


def test_about_half_a_million_interviews_a_slice(monkeypatch):
    assert slice_count(pl.LazyFrame({"k": ["a"] * 10})) == 1
    monkeypatch.setattr("pipelines.release.slices.SLICE_ROUNDS", 3)
    assert slice_count(pl.LazyFrame({"k": ["a"] * 10})) == 4
