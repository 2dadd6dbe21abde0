"""Mapping anonymised records to events.

One record is one event, named in the past tense after what happened. Events are facts as
reported: a corrected debrief is simply a later DebriefSubmitted on the same interview stream,
and a later outcome a later OutcomeRecorded; which one wins is the projections' decision
(latest submitted_at / decided_at), so arrival order never changes the result.
"""

from __future__ import annotations

import polars as pl

from pipelines.core import spec

DEBRIEF_SUBMITTED = "DebriefSubmitted"
OUTCOME_RECORDED = "OutcomeRecorded"
ERASURE_REQUESTED = "ErasureRequested"

EVENT_TYPE_BY_RECORD = {
    "debrief": DEBRIEF_SUBMITTED,
    "outcome": OUTCOME_RECORDED,
    "erasure": ERASURE_REQUESTED,
}

# Current payload schema version of each event type. Version 2 of the debrief and outcome
# payloads adds the contract's revision-1.1 fields (application_key, round); a record without
# them keeps its version-1 payload, byte for byte, so a 1.0 file sent again is still a
# duplicate and not a conflict. Every added field is optional, so a version-1 payload decodes
# as version 2 with nulls and needs no upcaster.
EVENT_SCHEMA_VERSIONS = {
    DEBRIEF_SUBMITTED: 2,
    OUTCOME_RECORDED: 2,
    ERASURE_REQUESTED: 1,
}

# What anonymisation puts in place of an identifying spec field (None: dropped; the pseudonyms
# interview_key and client_key lead every payload instead).
_ANONYMISED = {
    "interview_ref": None,
    "application_ref": "application_key",
    "experience_years": "experience_band",
}
# Payload fields that version 1 did not have.
_ADDED_IN_V2 = ("application_key", "round")


def _payload_fields(record_fields: tuple[str, ...], keys: tuple[str, ...]) -> tuple[str, ...]:
    mapped = (_ANONYMISED.get(f, f) for f in record_fields)
    return (*keys, *(f for f in mapped if f is not None))


# Payload fields per event type, in the order they are serialised (the order is part of the
# content hash, so it must never change for a given schema version).
PAYLOAD_FIELDS = {
    DEBRIEF_SUBMITTED: _payload_fields(spec.DEBRIEF_FIELDS, ("interview_key", "client_key")),
    OUTCOME_RECORDED: _payload_fields(spec.OUTCOME_FIELDS, ("interview_key", "client_key")),
    ERASURE_REQUESTED: _payload_fields(spec.ERASURE_FIELDS, ("client_key",)),
}
V1_PAYLOAD_FIELDS = {
    event_type: tuple(f for f in fields if f not in _ADDED_IN_V2)
    for event_type, fields in PAYLOAD_FIELDS.items()
}

OCCURRED_AT = {
    DEBRIEF_SUBMITTED: "submitted_at",
    OUTCOME_RECORDED: "decided_at",
    ERASURE_REQUESTED: "requested_at",
}

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%.6fZ"


def _json_value(name: str) -> pl.Expr:
    kind = spec.FIELD_KINDS.get(name)
    col = pl.col(name)
    if kind == "timestamp":
        return col.dt.to_string(TIMESTAMP_FORMAT).alias(name)
    if kind == "date":
        return col.dt.to_string("%Y-%m-%d").alias(name)
    return col


def _stream_id(event_type: str) -> pl.Expr:
    if event_type == ERASURE_REQUESTED:
        return pl.lit("client-") + pl.col("client_key")
    return pl.lit("interview-") + pl.col("interview_key")


def _has_v2_fields(event_type: str) -> pl.Expr:
    added = [pl.col(f).is_not_null() for f in _ADDED_IN_V2 if f in PAYLOAD_FIELDS[event_type]]
    return pl.any_horizontal(added) if added else pl.lit(False)


def _payload(fields: tuple[str, ...]) -> pl.Expr:
    return pl.struct([_json_value(f) for f in fields]).struct.json_encode()


def events_from_records(records: pl.LazyFrame, source_file: str) -> pl.LazyFrame:
    """Anonymised, validated records -> new-event rows for `EventStore.append` (in file order)."""
    parts = []
    for record_type, event_type in EVENT_TYPE_BY_RECORD.items():
        is_v2 = _has_v2_fields(event_type)
        current = EVENT_SCHEMA_VERSIONS[event_type]
        parts.append(
            records.filter(pl.col("record_type") == record_type).select(
                _stream_id(event_type).alias("stream_id"),
                pl.lit(event_type).alias("event_type"),
                pl.when(is_v2).then(current).otherwise(1).cast(pl.Int16).alias("schema_version"),
                pl.col(OCCURRED_AT[event_type]).alias("occurred_at"),
                pl.col("firm_id"),
                pl.col("client_key"),
                pl.col("record_id"),
                pl.lit(source_file).alias("source_file"),
                pl.col("source_line"),
                pl.when(is_v2)
                .then(_payload(PAYLOAD_FIELDS[event_type]))
                .otherwise(_payload(V1_PAYLOAD_FIELDS[event_type]))
                .alias("payload"),
            )
        )
    return pl.concat(parts).sort("source_line")
