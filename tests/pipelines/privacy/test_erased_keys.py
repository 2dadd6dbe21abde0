"""The erasure register check of every ingested file, and the raw-file redaction's look-up:
the batched tokens are erasure_token's."""

from __future__ import annotations

import json
import random

import polars as pl

from pipelines.privacy.anonymise import pseudonym
from pipelines.privacy.erasure import _erased_lines, erased_keys, erasure_token
from warehouse.store import EventStore

KEY = b"erasure-test-key"


def test_erased_keys_finds_exactly_the_registered_clients():
    rng = random.Random(7)
    firms = ("north-star", "bright-path", "summit-coaching")
    pairs = [(f, f"{rng.getrandbits(128):032x}") for f in firms for _ in range(300)]
    erased = rng.sample(pairs[:600], 25)  # none of summit-coaching's: its firm is skipped
    with EventStore(":memory:") as store:
        for position, (firm, client) in enumerate(erased, start=1):
            store.con.execute(
                "INSERT INTO eventstore.erasures (position, firm_id, erased_token, "
                "requested_at, erased_at, events_erased) VALUES (?, ?, ?, now(), now(), 1)",
                [position, firm, erasure_token(KEY, firm, client)],
            )
        candidates = pl.DataFrame(pairs * 2, schema=["firm_id", "client_key"], orient="row")
        found = erased_keys(store.con, KEY, candidates)
    assert sorted(found.iter_rows()) == sorted(erased)


def test_erased_lines_of_a_raw_file_are_exactly_the_erased_clients_records(tmp_path):
    """The raw-file redaction's batched look-up equals erasure_token(pseudonym(ref)) per
    record, with refs that normalise (spaces, e-mail case) and records without a client."""
    rng = random.Random(11)
    refs = [f"C-{i:05d}" for i in range(400)] + [" Ann.Lee@Example.com ", "ann.lee@example.com"]
    firms = ("north-star", "bright-path")
    records = [
        {"record_type": "debrief", "firm_id": rng.choice(firms), "client_ref": rng.choice(refs)}
        for _ in range(3_000)
    ]
    records += [{"record_type": "debrief", "firm_id": "north-star"}, {"firm_id": None}]
    path = tmp_path / "f.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    erased = {("north-star", "ann.lee@example.com"), *((f, rng.choice(refs)) for f in firms)}
    tokens = {(f, erasure_token(KEY, f, pseudonym(KEY, f, "client", r))) for f, r in erased}

    def token(r: dict) -> tuple[str, str]:
        key = pseudonym(KEY, r["firm_id"], "client", r["client_ref"])
        return r["firm_id"], erasure_token(KEY, r["firm_id"], key)

    expected = {
        line
        for line, r in enumerate(records, start=1)
        if r.get("client_ref") is not None and token(r) in tokens
    }
    assert len(expected) > 10
    assert _erased_lines(path, KEY, tokens) == expected
    assert _erased_lines(path, KEY, set()) == set()
