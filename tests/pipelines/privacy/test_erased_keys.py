"""The erasure register check of every ingested file: the batched tokens are erasure_token's."""

from __future__ import annotations

import random

import polars as pl

from pipelines.privacy.erasure import erased_keys, erasure_token
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
