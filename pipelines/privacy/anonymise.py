"""Pseudonymisation: nothing that identifies a person goes past this module.

- `client_ref`, `interview_ref` and `application_ref` become keyed HMAC-SHA256 pseudonyms. The
  key is derived per firm from the master key, so the same person at two firms gets unrelated
  pseudonyms and one firm's key says nothing about another's. `record_id` too: it stays a
  perfect idempotency key, and a firm that uses e-mails or names as record ids leaks nothing.
- `experience_years` (a quasi-identifier) becomes a band.
- `notes` are scrubbed of e-mails, phone numbers, URLs and person names; so are the free-text
  labels `industry` and `role_family` (nobody should type a person there, but nothing stops it).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from pipelines.core import spec
from pipelines.privacy.scrub import scrub_text, scrub_texts, scrubbed_notes

PSEUDONYM_HEX_CHARS = 32  # 128 bits: collisions are out of reach at any realistic scale

IDENTIFYING_COLUMNS = ("client_ref", "interview_ref", "application_ref", "experience_years")
# The record's own refs, as notes might quote them, and what replaces them there.
OWN_REFS = (
    ("client_ref", "[CLIENT]"),
    ("interview_ref", "[INTERVIEW]"),
    ("application_ref", "[APPLICATION]"),
)


def firm_key(master_key: bytes, firm_id: str) -> bytes:
    return hmac.new(master_key, b"firm\x1f" + firm_id.encode(), hashlib.sha256).digest()


def normalise_ref(value: str) -> str:
    """The same client written twice must get one pseudonym: trim, and case-fold e-mails
    (their case carries no meaning); names and opaque ids keep their case."""
    value = value.strip()
    return value.casefold() if "@" in value else value


def _digest(key: bytes, kind: str, value: str) -> str:
    material = kind.encode() + b"\x1f" + normalise_ref(value).encode()
    return hmac.digest(key, material, "sha256").hex()[:PSEUDONYM_HEX_CHARS]


_IPAD = bytes(b ^ 0x36 for b in range(256))  # RFC 2104's pads, for bytes.translate
_OPAD = bytes(b ^ 0x5C for b in range(256))


def keyed_digests(
    key: bytes, kind: str, values: Iterable[str], hex_chars: int = PSEUDONYM_HEX_CHARS
) -> list[str]:
    """`_digest` of many values under one key: HMAC spelt out (RFC 2104, as the hmac module
    does) so that the key's two pad blocks and the kind prefix are hashed once, then copied per
    value; 2.5x faster than hmac.digest per value, and checked equal to it in the tests. The
    first hex_chars of each (the erasure register keeps all 64)."""
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    inner = hashlib.sha256(block.translate(_IPAD))
    inner.update(kind.encode() + b"\x1f")
    outer = hashlib.sha256(block.translate(_OPAD))
    out = []
    for value in values:
        h = inner.copy()
        h.update(normalise_ref(value).encode())
        o = outer.copy()
        o.update(h.digest())
        out.append(o.hexdigest()[:hex_chars])
    return out


def pseudonym(master_key: bytes, firm_id: str, kind: str, value: str) -> str:
    """The pseudonym of one value (e.g. to find a client named in an erasure request)."""
    return _digest(firm_key(master_key, firm_id), kind, value)


def pseudonym_column(frame: pl.DataFrame, master_key: bytes, kind: str, column: str) -> pl.Series:
    # HMAC runs once per distinct (firm, value), not once per row.
    pairs = frame.select("firm_id", column).unique().drop_nulls()
    lookup = [
        values.with_columns(
            pl.Series(
                "_key",
                keyed_digests(firm_key(master_key, firm), kind, values[column].to_list()),
                pl.String,
            )
        )
        for (firm,), values in pairs.partition_by("firm_id", as_dict=True).items()
    ]
    return frame.select("firm_id", column).join(
        pl.concat(lookup) if lookup else pairs.with_columns(_key=pl.lit(None, pl.String)),
        on=["firm_id", column],
        how="left",
        maintain_order="left",
    )["_key"]


def experience_band(years: pl.Expr) -> pl.Expr:
    expr = pl.lit(None, dtype=pl.String)
    for low, high, label in reversed(spec.EXPERIENCE_BANDS):
        expr = pl.when(years.is_between(low, high)).then(pl.lit(label)).otherwise(expr)
    return expr


def with_experience_bands(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.with_columns(experience_band(pl.col("experience_years")).alias("experience_band"))


# What Python's str.strip() strips, as `normalise_ref` does before a ref's pseudonym is taken.
# Polars' default strips Unicode White_Space, which lacks the four ASCII separators \x1c-\x1f.
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def notes_without_own_refs(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Replace the record's own client_ref / interview_ref / application_ref wherever the notes
    quote them, each ref as its pseudonym sees it (stripped), in that order.

    The generic scrubber cannot know that "C-00123" is this client's id; the record itself does.
    A per-row literal replace is a split on the row's ref joined by the placeholder (Polars has
    no replace by a per-row pattern); refs shorter than 3 characters would blank out ordinary
    letters, so they are left alone.
    """
    for column, placeholder in OWN_REFS:
        notes, ref = pl.col("notes"), pl.col(column).str.strip_chars(PY_WHITESPACE)
        quoted = (ref.str.len_chars() >= 3) & notes.str.contains(ref, literal=True)
        replaced = notes.str.split(ref).list.join(placeholder)
        lf = lf.with_columns(pl.when(quoted.fill_null(False)).then(replaced).otherwise(notes))
    return lf


def anonymised_records(typed: pl.DataFrame, master_key: bytes) -> pl.DataFrame:
    """Valid typed records -> records with pseudonyms, bands and scrubbed notes only.

    Needs the data in memory (the HMAC is keyed per firm and computed per distinct value), so it
    takes a DataFrame chunk rather than a LazyFrame; the column transforms stay lazy.
    """
    keyed = typed.with_columns(
        pseudonym_column(typed, master_key, "client", "client_ref").alias("client_key"),
        pseudonym_column(typed, master_key, "interview", "interview_ref").alias("interview_key"),
        pseudonym_column(typed, master_key, "application", "application_ref").alias(
            "application_key"
        ),
        pseudonym_column(typed, master_key, "record", "record_id").alias("record_id"),
        *(_scrubbed_labels(typed, column) for column in FREE_TEXT_LABELS),
    )
    return (
        keyed.lazy()
        .pipe(with_experience_bands)
        .pipe(notes_without_own_refs)
        .pipe(scrubbed_notes, "notes")
        .drop(IDENTIFYING_COLUMNS)
        .collect()
    )


FREE_TEXT_LABELS = ("industry", "role_family")


def _scrubbed_labels(typed: pl.DataFrame, column: str) -> pl.Series:
    # A handful of distinct labels: scrub each once, not every row.
    values = typed.get_column(column).unique().drop_nulls().to_list()
    mapping = dict(zip(values, scrub_texts(values), strict=True))
    return typed.get_column(column).replace_strict(mapping, default=None, return_dtype=pl.String)


def stored_name(path: Path) -> str:
    """The file name as SealDeal keeps it (manifest, events, quarantine, GX batch names): an
    operator may name an export after a person, so it goes through the notes scrubber."""
    return scrub_text(path.name)
