"""Contract of the event store, run against every storage backend (DuckDB file and in-memory)."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import replace
from datetime import UTC, datetime

import duckdb
import polars as pl
import pytest

from warehouse import store as store_module
from warehouse.store import ConcurrencyError, EventStore, NewEvent, Upcasters, new_events_frame

T0 = datetime(2026, 3, 2, 18, 4, tzinfo=UTC)


def ev(record_id: str, stream: str = "interview-a", firm: str = "north-star", **payload):
    return NewEvent(
        stream_id=stream,
        event_type="DebriefSubmitted",
        occurred_at=T0,
        firm_id=firm,
        record_id=record_id,
        payload=payload or {"stage": "final"},
        client_key="c1",
        source_file="f.jsonl",
        source_line=1,
    )


@pytest.fixture(params=["memory", "file"])
def store(request, tmp_path):
    database = ":memory:" if request.param == "memory" else tmp_path / "warehouse.duckdb"
    with EventStore(database) as s:
        yield s


def positions(store: EventStore) -> list[int]:
    return store.read_frame()["position"].to_list()


def test_append_assigns_gap_free_positions_and_stream_versions(store):
    r1 = store.append([ev("d-1"), ev("d-2", stream="interview-b"), ev("d-3")])
    r2 = store.append([ev("d-4", stream="interview-b")])
    assert (r1.appended, r1.first_position, r1.last_position) == (3, 1, 3)
    assert (r2.first_position, r2.last_position) == (4, 4)
    assert positions(store) == [1, 2, 3, 4]
    assert [e.stream_version for e in store.read_stream("interview-a")] == [1, 2]
    assert [e.stream_version for e in store.read_stream("interview-b")] == [1, 2]
    assert [e.record_id for e in store.read_stream("interview-b")] == ["d-2", "d-4"]


def test_stored_event_carries_metadata_and_payload(store):
    store.append([ev("d-1", stage="panel", asked=True)])
    (e,) = store.read()
    assert e.event_type == "DebriefSubmitted"
    assert e.firm_id == "north-star" and e.record_id == "d-1"
    assert e.source_file == "f.jsonl" and e.source_line == 1
    assert e.occurred_at == T0
    assert e.recorded_at.tzinfo is not None
    assert e.payload == {"stage": "panel", "asked": True}
    assert len(e.content_hash) == 64


def test_duplicate_record_adds_nothing(store):
    store.append([ev("d-1")])
    again = store.append([ev("d-1"), ev("d-1")])
    assert (again.appended, again.duplicates, again.conflicts) == (0, 2, 0)
    assert positions(store) == [1]


def test_duplicate_within_one_batch_is_appended_once(store):
    r = store.append([ev("d-1"), ev("d-1")])
    assert (r.appended, r.duplicates) == (1, 1)
    assert positions(store) == [1]


def test_same_key_same_content_in_other_firm_is_a_different_record(store):
    r = store.append([ev("d-1"), ev("d-1", firm="blue-peak")])
    assert r.appended == 2


def test_conflicting_record_is_recorded_and_never_overwrites(store):
    store.append([ev("d-1", stage="final")])
    r = store.append([ev("d-1", stage="panel"), ev("d-2")])
    assert (r.appended, r.duplicates, r.conflicts) == (1, 0, 1)
    assert store.read_stream("interview-a")[0].payload == {"stage": "final"}
    rows = store.con.execute(
        "SELECT firm_id, record_id, existing_position FROM eventstore.conflicts"
    ).fetchall()
    assert rows == [("north-star", "d-1", 1)]
    # Seeing the same conflict again is not a second conflict row.
    store.append([ev("d-1", stage="panel")])
    assert store.con.execute("SELECT count(*) FROM eventstore.conflicts").fetchone()[0] == 1


def test_failed_batch_leaves_nothing_behind(store):
    store.append([ev("d-1")])
    bad = pl.DataFrame(
        {
            "stream_id": ["interview-x", None],  # a NULL stream id violates NOT NULL
            "event_type": ["DebriefSubmitted"] * 2,
            "schema_version": [1, 1],
            "occurred_at": [T0, T0],
            "firm_id": ["north-star"] * 2,
            "client_key": ["c"] * 2,
            "record_id": ["d-7", "d-8"],
            "source_file": ["g.jsonl"] * 2,
            "source_line": [1, 2],
            "payload": ["{}", "{}"],
        }
    )
    # Bad data says so: no "another writer appended first, retry".
    with pytest.raises(duckdb.ConstraintException, match="NOT NULL"):
        store.append(bad)
    assert positions(store) == [1]
    assert store.read_stream("interview-x") == []
    # The store is still usable and positions stay gap-free.
    store.append([ev("d-9")])
    assert positions(store) == [1, 2]


def test_expected_version_mismatch_is_rejected_with_clear_error(store):
    store.append([ev("d-1")], expected_versions={"interview-a": 0})
    with pytest.raises(ConcurrencyError, match="interview-a is at v1, expected v0"):
        store.append([ev("d-2")], expected_versions={"interview-a": 0})
    assert positions(store) == [1]
    store.append([ev("d-2")], expected_versions={"interview-a": 1})
    assert positions(store) == [1, 2]


def test_concurrent_appends_to_one_stream_are_rejected(store):
    store.append([ev("d-0")])
    w1, w2 = store.con.cursor(), store.con.cursor()
    s1 = EventStore(store.database, connection=w1)
    s2 = EventStore(store.database, connection=w2)
    w1.begin()
    w2.begin()
    s1.append_in(w1, [ev("d-1")], expected_versions={"interview-a": 1})
    s2.append_in(w2, [ev("d-2")], expected_versions={"interview-a": 1})
    w1.commit()
    with pytest.raises(duckdb.TransactionException, match="constraint violation"):
        w2.commit()
    assert [e.record_id for e in store.read_stream("interview-a")] == ["d-0", "d-1"]
    assert positions(store) == [1, 2]


def test_concurrent_append_via_transaction_raises_concurrency_error(store):
    store.append([ev("d-0")])
    other = EventStore(store.database, connection=store.con.cursor())
    with pytest.raises(ConcurrencyError, match="another writer"):  # noqa: SIM117
        with store.transaction() as con:
            store.append_in(con, [ev("d-1")])
            other.append([ev("d-2")])  # commits first, taking position 2
    assert [e.record_id for e in store.read()] == ["d-0", "d-2"]


def test_an_append_behind_a_writer_that_committed_meanwhile_says_retry(store):
    # The other writer commits after this transaction began: the insert itself meets the
    # position key, and the caller must hear "retry", not that the transaction is aborted.
    store.append([ev("d-0")])
    other = EventStore(store.database, connection=store.con.cursor())
    with pytest.raises(ConcurrencyError, match="another writer"):  # noqa: SIM117
        with store.transaction() as con:
            con.execute("SELECT count(*) FROM eventstore.events").fetchall()
            other.append([ev("d-2")])  # takes position 2 first
            store.append_in(con, [ev("d-1")])
    assert [e.record_id for e in store.read()] == ["d-0", "d-2"]
    assert store.append([ev("d-1")]).appended == 1  # and the retry goes through


def test_read_by_position_range(store):
    store.append([ev(f"d-{i}", stream=f"interview-{i % 3}") for i in range(10)])
    assert store.read_frame(4, 6)["position"].to_list() == [4, 5, 6]
    assert store.read_frame(9)["position"].to_list() == [9, 10]
    assert store.max_position() == 10


def test_tracking_commits_with_projection_writes_or_not_at_all(store):
    store.append([ev("d-1"), ev("d-2")])
    store.con.execute("CREATE TABLE proj (n INT)")
    with store.transaction() as con:
        con.execute("INSERT INTO proj VALUES (1)")
        store.track_in(con, "demo", 2)
    assert store.tracked_position("demo") == 2
    with pytest.raises(RuntimeError), store.transaction() as con:
        con.execute("INSERT INTO proj VALUES (2)")
        store.track_in(con, "demo", 5)
        raise RuntimeError("projection crashed")
    assert store.tracked_position("demo") == 2
    assert store.con.execute("SELECT count(*) FROM proj").fetchone()[0] == 1


def test_upcasters_lift_old_payloads_on_read(store):
    store.append([ev("d-1", stage="final")])
    up = Upcasters()
    up.register("DebriefSubmitted", 1, lambda p: {"round": p["stage"]})
    reader = EventStore(store.database, connection=store.con.cursor(), upcasters=up)
    (e,) = reader.read()
    assert (e.schema_version, e.payload) == (2, {"round": "final"})
    # The stored event itself is never rewritten.
    raw = store.con.execute("SELECT schema_version, payload FROM eventstore.events").fetchone()
    assert (raw[0], json.loads(raw[1])) == (1, {"stage": "final"})


def test_file_backend_persists_across_connections(tmp_path):
    path = tmp_path / "w.duckdb"
    with EventStore(path) as s:
        s.append([ev("d-1")])
    with EventStore(path) as s:
        assert s.append([ev("d-1")]).duplicates == 1
        assert s.max_position() == 1


def test_payloads_are_decoded_by_the_store_typed_and_in_order(store):
    store.append(
        [
            ev("d-1", stage="final", self_rating=4, kinds=["concerns"]),
            ev("d-2", stream="erased-7", stage="panel"),  # a tombstone's stream
            ev("d-3", stage="panel", extra="ignored"),
        ]
    )
    shape = pl.Struct({"stage": pl.String, "self_rating": pl.Int64, "kinds": pl.List(pl.String)})
    frame = store.read_payloads("DebriefSubmitted", shape, skip_stream_prefix="erased-")
    assert frame.columns == ["position", "event_type", "firm_id", "payload"]
    assert frame.schema["payload"] == shape
    assert frame["position"].to_list() == [1, 3]
    assert frame["payload"].to_list() == [
        {"stage": "final", "self_rating": 4, "kinds": ["concerns"]},
        {"stage": "panel", "self_rating": None, "kinds": None},
    ]
    # The same rows as decoding the stored text in Polars.
    text = store.read_frame().filter(pl.col("position") != 2)
    assert text["payload"].str.json_decode(shape).to_list() == frame["payload"].to_list()
    assert store.read_payloads("OutcomeRecorded", shape).height == 0
    assert store.read_payloads("DebriefSubmitted", shape, 2, 2)["position"].to_list() == [2]


def test_decoded_payloads_are_upcast_first(store):
    store.append([ev("d-1", stage="final")])
    up = Upcasters()
    up.register("DebriefSubmitted", 1, lambda p: {"round": p["stage"]})
    reader = EventStore(store.database, connection=store.con.cursor(), upcasters=up)
    frame = reader.read_payloads("DebriefSubmitted", pl.Struct({"round": pl.String}))
    assert frame["payload"].to_list() == [{"round": "final"}]


def test_record_keys_stay_unique_and_versions_gap_free_without_unique_indexes(store):
    # The log has no unique index on (firm_id, record_id) or (stream_id, stream_version): the
    # append itself must keep both, across batches, repeats within a batch and conflicts.
    rng = random.Random(16)
    for _ in range(12):
        batch = [
            ev(
                f"d-{rng.randrange(40)}",
                stream=f"interview-{rng.randrange(5)}",
                firm=rng.choice(["north-star", "bright-path"]),
                stage=rng.choice(["final", "panel"]),
            )
            for _ in range(rng.randrange(1, 15))
        ]
        store.append(batch)
    repeated = store.con.sql(
        "SELECT firm_id, record_id FROM eventstore.events GROUP BY ALL HAVING count(*) > 1"
    ).fetchall()
    assert repeated == []
    gaps = store.con.sql(
        "SELECT stream_id FROM eventstore.events GROUP BY stream_id "
        "HAVING list_sort(list(stream_version)) <> range(1, count(*) + 1)::INTEGER[]"
    ).fetchall()
    assert gaps == []
    assert positions(store) == list(range(1, store.max_position() + 1))
    assert store.con.sql("SELECT count(*) FROM eventstore.conflicts").fetchall()[0][0] > 0


def _model_append(model: dict, batch: list[NewEvent], hashes: list[str]) -> tuple[int, int, int]:
    """The append's rules, one event at a time: a new key takes the next position and the next
    version of its stream; a known key with the same content is a duplicate, other content a
    conflict against the kept event, noted once per content where it first came (the kept
    event's position only when it was in the log before this batch)."""
    appended = duplicates = conflicts = 0
    model["batch"] += 1
    for event, content in zip(batch, hashes, strict=True):
        key = (event.firm_id, event.record_id)
        kept = model["keys"].get(key)
        if kept is None:
            model["position"] += 1
            version = model["streams"].get(event.stream_id, 0) + 1
            model["streams"][event.stream_id] = version
            model["keys"][key] = (content, model["position"], model["batch"])
            model["rows"].append((model["position"], event.stream_id, version, *key, content))
            appended += 1
        elif kept[0] == content:
            duplicates += 1
        else:
            kept_content, position, batch_no = kept
            existing = position if batch_no < model["batch"] else None
            model["conflicts"].setdefault(
                (*key, content), (existing, kept_content, event.source_line)
            )
            conflicts += 1
    return appended, duplicates, conflicts


def test_appends_follow_the_one_event_at_a_time_rules_exactly(store):
    # Random batches against a model of the rules: every position, stream version, content hash
    # and conflict row, and each batch's counts, as if the events had arrived one by one.
    _check_appends_against_the_model(store)


def test_record_keys_that_share_a_hash_are_still_told_apart(store):
    # The key hash only narrows the search: with every key hashed alike, every stored event is
    # a candidate, and the keys themselves must decide.
    store.con.execute(
        "CREATE OR REPLACE MACRO eventstore.hash_of_key(firm_id, record_id) AS 7::UHUGEINT"
    )
    _check_appends_against_the_model(store)


def _check_appends_against_the_model(store: EventStore) -> None:
    rng = random.Random(7)
    model: dict = {
        "position": 0,
        "batch": 0,
        "streams": {},
        "keys": {},
        "rows": [],
        "conflicts": {},
    }
    for _ in range(15):
        batch = [
            replace(
                ev(
                    f"d-{rng.randrange(30)}",
                    stream=f"interview-{rng.randrange(6)}",
                    firm=rng.choice(["north-star", "bright-path"]),
                    stage=rng.choice(["final", "panel", "final"]),
                ),
                source_line=line,
            )
            for line in range(1, rng.randrange(2, 21))
        ]
        store.con.register("_b", new_events_frame(batch).to_arrow())
        hashes = [
            h
            for (h,) in store.con.sql(
                "SELECT sha256(event_type || chr(31) || stream_id || chr(31) || payload) FROM _b"
            ).fetchall()
        ]
        store.con.unregister("_b")
        r = store.append(batch)
        assert (r.appended, r.duplicates, r.conflicts) == _model_append(model, batch, hashes)
    rows = store.con.sql(
        "SELECT position, stream_id, stream_version, firm_id, record_id, content_hash "
        "FROM eventstore.events ORDER BY position"
    ).fetchall()
    assert rows == model["rows"]
    conflicts = store.con.sql(
        "SELECT firm_id, record_id, incoming_hash, existing_position, existing_hash, "
        "source_line FROM eventstore.conflicts"
    ).fetchall()
    assert {(f, r, h): rest for f, r, h, *rest in conflicts} == {
        key: list(value) for key, value in model["conflicts"].items()
    }
    assert len(conflicts) == len(model["conflicts"]) > 5
    assert any(position is None for _, _, _, position, _, _ in conflicts)
    assert any(position is not None for _, _, _, position, _, _ in conflicts)


def stale_hashes(con: duckdb.DuckDBPyConnection) -> int:
    """Events whose key or stream hash is not that of their key or stream (NULL counts)."""
    return con.sql(
        "SELECT count(*) FROM eventstore.events "
        "WHERE key_hash IS DISTINCT FROM eventstore.hash_of_key(firm_id, record_id) "
        "OR stream_hash IS DISTINCT FROM eventstore.hash_of_stream(stream_id)"
    ).fetchall()[0][0]


def test_every_event_carries_the_hashes_its_key_and_stream_are_looked_up_by(store):
    rng = random.Random(3)
    for _ in range(6):
        store.append(
            [ev(f"d-{rng.randrange(20)}", stream=f"interview-{rng.randrange(4)}") for _ in range(9)]
        )
    assert store.max_position() > 5
    assert stale_hashes(store.con) == 0
    # MD5 of the key's parts (DuckDB reads the digest little-endian). Stored hashes must stay
    # what the append computes: a DuckDB that changed md5_number would fail here first.
    (digest,) = store.con.sql("SELECT eventstore.hash_of_key('f', 'r')").fetchall()[0]
    assert digest == int.from_bytes(hashlib.md5(b"f\x1fr").digest(), "little")


# eventstore.events as warehouses were created before the key and stream hashes (some with the
# unique indexes of an earlier version still).
LOG_BEFORE_HASHES = """
CREATE SCHEMA eventstore;
CREATE TABLE eventstore.events (
    position BIGINT PRIMARY KEY, stream_id VARCHAR NOT NULL, stream_version INTEGER NOT NULL,
    event_type VARCHAR NOT NULL, schema_version SMALLINT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL, recorded_at TIMESTAMPTZ NOT NULL,
    firm_id VARCHAR NOT NULL, client_key VARCHAR, record_id VARCHAR NOT NULL,
    source_file VARCHAR, source_line BIGINT, content_hash VARCHAR NOT NULL,
    payload JSON NOT NULL
);
CREATE UNIQUE INDEX events_record ON eventstore.events (firm_id, record_id);
CREATE UNIQUE INDEX events_stream_version ON eventstore.events (stream_id, stream_version);
"""


def test_a_log_from_before_the_hashes_gets_them_and_appends_carry_on(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "HASH_FILL_EVENTS", 2)  # filled in slices: 1-2, 3
    path = tmp_path / "warehouse.duckdb"
    with EventStore(":memory:") as scratch:  # the old rows, as an append wrote them
        scratch.append([ev("d-1"), ev("d-2", stream="interview-b"), ev("d-3")])
        old_rows = scratch.con.sql(
            "SELECT * EXCLUDE (key_hash, stream_hash) FROM eventstore.events"
        ).pl()
    con = duckdb.connect(str(path))
    con.execute(LOG_BEFORE_HASHES)
    con.register("_old", old_rows.to_arrow())
    con.execute("INSERT INTO eventstore.events SELECT * FROM _old")
    con.close()

    with EventStore(path) as store:
        assert stale_hashes(store.con) == 0
        again = store.append([ev("d-1"), ev("d-4"), ev("d-2", stream="interview-b", stage="x")])
        assert (again.appended, again.duplicates, again.conflicts) == (1, 1, 1)
        assert [e.stream_version for e in store.read_stream("interview-a")] == [1, 2, 3]
        assert stale_hashes(store.con) == 0
