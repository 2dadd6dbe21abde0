"""Pseudonyms, bands and notes: the pure parts of anonymisation."""

from __future__ import annotations

import hashlib
import hmac
import random

import polars as pl
import pytest

from pipelines.privacy.anonymise import (
    PY_WHITESPACE,
    experience_band,
    firm_key,
    keyed_digests,
    normalise_ref,
    notes_without_own_refs,
    pseudonym,
    pseudonym_column,
)

# Values whose normalisation is easy to get wrong: Unicode whitespace and case folding (ß -> ss,
# final sigma, dotted I), e-mails with case and spaces, empty after trimming, very long.
TRICKY_REFS = [
    "Jane.Doe@Example.com ",
    "jane.doe@example.com",
    "  JANE.DOE@EXAMPLE.COM\t",
    "Jane Doe",
    "jane doe",
    "",
    "   ",
    "\x1c\x1f",
    "\u3000C-00123\u00a0",
    "STRASSE@x.de",
    "Straße@x.de",
    "ΣΊΣΥΦΟΣ@x.gr",
    "İstanbul@x.tr",
    "ǅemal@x.ba",
    "Ｆｕｌｌ@ｗｉｄｔｈ.jp",
    "名前@例え.jp",
    "🙂@x.io",
    "a" * 10_000 + "@X.org",
    "x" * 100_000,
]


def _hmac_reference(key: bytes, kind: str, value: str) -> str:
    """The pseudonym as first specified: one hmac.digest of kind, a unit separator and the
    normalised value."""
    material = kind.encode() + b"\x1f" + normalise_ref(value).encode()
    return hmac.digest(key, material, "sha256").hex()[:32]


def _random_refs(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = "abcXYZ019 @.-_\t\u00a0\u3000éßİıΣς名🙂\x1f"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(n)]


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
    # Stripped as its pseudonym strips it: an ASCII separator around the ref hides nothing.
    padded = frame.with_columns(pl.Series("client_ref", ["\x1cC-00123\x1f", "C-9", "C-1", "A"]))
    out = notes_without_own_refs(padded.lazy()).collect()["notes"].to_list()
    assert out[0] == "Client [CLIENT] asked; see [INTERVIEW]."


def _without_own_refs_reference(notes: str | None, refs: list[str | None]) -> str | None:
    """The replacement as first specified, one row at a time in Python."""
    for ref, placeholder in zip(refs, ["[CLIENT]", "[INTERVIEW]", "[APPLICATION]"], strict=True):
        ref = (ref or "").strip()
        if notes is not None and len(ref) >= 3:
            notes = notes.replace(ref, placeholder)
    return notes


def test_py_whitespace_is_what_str_strip_strips():
    assert "".join(c for c in map(chr, range(0x110000)) if c.isspace()) == PY_WHITESPACE


def test_notes_without_own_refs_equal_the_row_by_row_reference():
    # Refs quoted whole, in part, twice, inside one another, beside separators and Unicode
    # spaces that only Python's strip removes, regex metacharacters, too short to replace.
    rng = random.Random(5)
    pieces = ["C-001", "C-0011", "int.7*", "(a|b)", "AB", "ß\u3000x", "\x1cC-9\x1f", "x", " "]
    refs = [*pieces, *TRICKY_REFS[:-2], *_random_refs(200, seed=3), None]
    rows = []
    for _ in range(3_000):
        own = [rng.choice(refs) for _ in range(3)]
        quoted = [rng.choice([*pieces, *(r.strip() for r in own if r)]) for _ in range(4)]
        notes = rng.choice([None, " ".join(quoted), "".join(quoted), "no refs here"])
        rows.append((notes, *own))
    frame = pl.DataFrame(
        rows, schema=["notes", "client_ref", "interview_ref", "application_ref"], orient="row"
    )
    out = notes_without_own_refs(frame.lazy()).collect()
    expected = [_without_own_refs_reference(n, list(refs)) for n, *refs in rows]
    assert out["notes"].to_list() == expected
    assert sum(o != n for o, (n, *_) in zip(expected, rows, strict=True)) > 500


@pytest.mark.parametrize("key", [b"", b"k", bytes(range(32)), bytes(range(64)), b"x" * 65])
def test_batched_digests_equal_hmac_digest(key):
    values = TRICKY_REFS + _random_refs(2_000, seed=len(key))
    expected = [_hmac_reference(key, "client", v) for v in values]
    assert keyed_digests(key, "client", values) == expected
    assert keyed_digests(key, "record", values[:3]) != expected[:3]


def test_pseudonym_column_equals_the_reference_per_row_and_firm():
    values = TRICKY_REFS + _random_refs(3_000, seed=7)
    rng = random.Random(11)
    firms = ["north-star", "blue-peak", "ünïcode-firm"]
    rows = [(rng.choice(firms), rng.choice([*values, None])) for _ in range(6_000)]
    frame = pl.DataFrame(rows, schema={"firm_id": pl.String, "ref": pl.String}, orient="row")
    out = pseudonym_column(frame, b"master", "client", "ref").to_list()
    keys = {f: firm_key(b"master", f) for f in firms}
    assert out == [None if v is None else _hmac_reference(keys[f], "client", v) for f, v in rows]
    assert out[0] is None or out[0] == pseudonym(b"master", rows[0][0], "client", rows[0][1])


def test_pseudonym_column_of_only_nulls():
    frame = pl.DataFrame(
        {"firm_id": ["a", "b"], "ref": [None, None]}, schema_overrides={"ref": pl.String}
    )
    assert pseudonym_column(frame, b"m", "client", "ref").to_list() == [None, None]


def test_firm_key_is_hmac_of_the_firm():
    expected = hmac.new(b"m", b"firm\x1fnorth-star", hashlib.sha256).digest()
    assert firm_key(b"m", "north-star") == expected
