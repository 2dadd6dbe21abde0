"""Pseudonyms, bands and notes: the pure parts of anonymisation."""

from __future__ import annotations

import polars as pl

from pipelines.privacy.anonymise import (
    experience_band,
    normalise_ref,
    notes_without_own_refs,
    pseudonym,
)


def test_pseudonyms_are_keyed_deterministic_and_firm_specific():
    a = pseudonym(b"k1", "north-star", "client", "Jane.Doe@Example.com ")
    assert a == pseudonym(b"k1", "north-star", "client", "jane.doe@example.com")
    assert a != pseudonym(b"k2", "north-star", "client", "jane.doe@example.com")
    assert a != pseudonym(b"k1", "blue-peak", "client", "jane.doe@example.com")
    assert a != pseudonym(b"k1", "north-star", "interview", "jane.doe@example.com")
    assert len(a) == 32 and "jane" not in a


def test_names_and_ids_keep_their_case_emails_do_not():
    assert normalise_ref(" Jane Doe ") == "Jane Doe"
    assert normalise_ref("JANE@X.ORG") == "jane@x.org"


def test_experience_bands():
    years = pl.Series([0, 2, 3, 5, 6, 10, 11, 20, 21, 60, None])
    bands = pl.select(experience_band(pl.lit(years))).to_series().to_list()
    assert bands == [
        "0-2",
        "0-2",
        "3-5",
        "3-5",
        "6-10",
        "6-10",
        "11-20",
        "11-20",
        "21+",
        "21+",
        None,
    ]


def test_notes_lose_the_records_own_refs():
    frame = pl.DataFrame(
        {
            "notes": ["Client C-00123 asked; see int-77.", "Nothing here.", None, "A met B"],
            "client_ref": ["C-00123", "C-9", "C-1", "A"],
            "interview_ref": ["int-77", "x-1", "x-2", "B"],
            "application_ref": ["APP-5", None, None, None],
        }
    )
    out = notes_without_own_refs(frame.lazy()).collect()["notes"].to_list()
    assert out == ["Client [CLIENT] asked; see [INTERVIEW].", "Nothing here.", None, "A met B"]
    quoted = frame.with_columns(pl.Series("notes", ["Second round of APP-5.", None, None, None]))
    out = notes_without_own_refs(quoted.lazy()).collect()["notes"].to_list()
    assert out[0] == "Second round of [APPLICATION]."
