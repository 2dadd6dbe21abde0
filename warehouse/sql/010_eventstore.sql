-- The append-only event log. Every landing record becomes one immutable event here; everything
-- else in the warehouse is a projection that can be rebuilt from this table.
CREATE SCHEMA IF NOT EXISTS eventstore;

CREATE TABLE IF NOT EXISTS eventstore.events (
    position        BIGINT      PRIMARY KEY,
    stream_id       VARCHAR     NOT NULL,
    stream_version  INTEGER     NOT NULL,
    event_type      VARCHAR     NOT NULL,
    schema_version  SMALLINT    NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    firm_id         VARCHAR     NOT NULL,
    client_key      VARCHAR,
    record_id       VARCHAR     NOT NULL,
    source_file     VARCHAR,
    source_line     BIGINT,
    content_hash    VARCHAR     NOT NULL,
    payload         JSON        NOT NULL
    -- Optimistic concurrency rests on the position key: every append takes the positions after
    -- the log's end, so of two concurrent appends the second to commit fails. Idempotency (a
    -- firm's record id appended at most once) and gap-free stream versions are the append's
    -- own work (EventStore._append_staged, inside the transaction). Unique indexes on
    -- (stream_id, stream_version) and (firm_id, record_id) would restate them at 3/4 of an
    -- append's cost (random string keys); warehouses created with them keep them.
);

COMMENT ON TABLE eventstore.events IS 'Append-only event log: one immutable event per accepted landing record, in gap-free global order. All other tables are projections of it.';
COMMENT ON COLUMN eventstore.events.position IS 'Global, gap-free, strictly increasing position of the event in the log (1, 2, 3, ...). Projections track how far they have read by this number.';
COMMENT ON COLUMN eventstore.events.stream_id IS 'The aggregate the event belongs to: interview-<interview_key> for debriefs and outcomes, client-<client_key> for erasures.';
COMMENT ON COLUMN eventstore.events.stream_version IS 'Version of the stream after this event (1 for the first event of a stream); unique per stream.';
COMMENT ON COLUMN eventstore.events.event_type IS 'What happened, in the past tense: DebriefSubmitted, OutcomeRecorded, ErasureRequested.';
COMMENT ON COLUMN eventstore.events.schema_version IS 'Version of the payload schema of this event type; older versions are upcast on read.';
COMMENT ON COLUMN eventstore.events.occurred_at IS 'When it happened in the world: submitted_at of a debrief, decided_at of an outcome, requested_at of an erasure (UTC).';
COMMENT ON COLUMN eventstore.events.recorded_at IS 'When SealDeal appended the event (UTC).';
COMMENT ON COLUMN eventstore.events.firm_id IS 'The coaching firm (tenant) the record came from.';
COMMENT ON COLUMN eventstore.events.client_key IS 'Pseudonym of the client: keyed HMAC-SHA256 of the firm''s client_ref, keyed per firm. Never the raw reference.';
COMMENT ON COLUMN eventstore.events.record_id IS 'Pseudonym of the firm''s own id of the landing record (HMAC, keyed per firm: an id may be an e-mail or a name); with firm_id, the idempotency key.';
COMMENT ON COLUMN eventstore.events.source_file IS 'Name of the landing file the record came from.';
COMMENT ON COLUMN eventstore.events.source_line IS 'Line (JSONL) or record start line (CSV) of the record in its landing file.';
COMMENT ON COLUMN eventstore.events.content_hash IS 'SHA-256 of the event''s type, stream and anonymised payload: tells a harmless re-delivery from a conflicting one.';
COMMENT ON COLUMN eventstore.events.payload IS 'The anonymised record as JSON: pseudonyms, banded experience, scrubbed notes; never a raw client_ref, e-mail, name or phone number.';

-- Each event's idempotency key and stream, hashed (MD5, 128 bits): an append finds a batch's
-- keys and stream heads in the log by scanning these two columns instead of every stored key
-- and stream id (at 10M interviews those string scans took ~45% of an ingest's commits). Logs
-- from before the columns get them here; the store then fills them (store._fill_log_hashes).
CREATE OR REPLACE MACRO eventstore.hash_of_key(firm_id, record_id) AS md5_number(firm_id || chr(31) || record_id);
CREATE OR REPLACE MACRO eventstore.hash_of_stream(stream_id) AS md5_number(stream_id);
ALTER TABLE eventstore.events ADD COLUMN IF NOT EXISTS key_hash UHUGEINT;
ALTER TABLE eventstore.events ADD COLUMN IF NOT EXISTS stream_hash UHUGEINT;

COMMENT ON COLUMN eventstore.events.key_hash IS 'eventstore.hash_of_key(firm_id, record_id): where an append looks for a record already in the log (the match is then checked on the key itself).';
COMMENT ON COLUMN eventstore.events.stream_hash IS 'eventstore.hash_of_stream(stream_id): where an append finds a stream''s last version. Stream ids are keyed pseudonyms or positions, so two never share this 128-bit hash in practice.';

-- Same idempotency key, different content: kept for review, never applied.
CREATE TABLE IF NOT EXISTS eventstore.conflicts (
    firm_id             VARCHAR     NOT NULL,
    record_id           VARCHAR     NOT NULL,
    incoming_hash       VARCHAR     NOT NULL,
    existing_position   BIGINT,
    existing_hash       VARCHAR     NOT NULL,
    source_file         VARCHAR,
    source_line         BIGINT,
    detected_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (firm_id, record_id, incoming_hash)
);

COMMENT ON TABLE eventstore.conflicts IS 'Records whose (firm_id, record_id) was already appended with different content. The original event is kept; the conflicting one is only noted here.';
COMMENT ON COLUMN eventstore.conflicts.firm_id IS 'The coaching firm (tenant).';
COMMENT ON COLUMN eventstore.conflicts.record_id IS 'Pseudonym of the firm''s record id that arrived twice with different content (see source_file and source_line for the record itself).';
COMMENT ON COLUMN eventstore.conflicts.incoming_hash IS 'Content hash of the rejected, conflicting record.';
COMMENT ON COLUMN eventstore.conflicts.existing_position IS 'Position of the event that was kept (null when the conflict was inside one batch and neither was stored before).';
COMMENT ON COLUMN eventstore.conflicts.existing_hash IS 'Content hash of the kept event.';
COMMENT ON COLUMN eventstore.conflicts.source_file IS 'Landing file of the conflicting record.';
COMMENT ON COLUMN eventstore.conflicts.source_line IS 'Line of the conflicting record in its landing file.';
COMMENT ON COLUMN eventstore.conflicts.detected_at IS 'When the conflict was first seen (UTC).';

-- Where each projection has read up to; written in the same transaction as its output.
CREATE TABLE IF NOT EXISTS eventstore.tracking (
    projection  VARCHAR     PRIMARY KEY,
    position    BIGINT      NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

COMMENT ON TABLE eventstore.tracking IS 'Per projection, the last event position it has processed; updated atomically with the projection''s own writes.';
COMMENT ON COLUMN eventstore.tracking.projection IS 'Name of the projection.';
COMMENT ON COLUMN eventstore.tracking.position IS 'Last event position included in the projection.';
COMMENT ON COLUMN eventstore.tracking.updated_at IS 'When the projection last advanced (UTC).';

-- Erasures: the register of clients who asked to be forgotten. Their events are tombstoned (see
-- pipelines/erasure.py); this keeps only what is needed to refuse their records if sent again.
CREATE TABLE IF NOT EXISTS eventstore.erasures (
    position         BIGINT      PRIMARY KEY,
    firm_id          VARCHAR     NOT NULL,
    erased_token     VARCHAR     NOT NULL,
    requested_at     TIMESTAMPTZ NOT NULL,
    erased_at        TIMESTAMPTZ NOT NULL,
    events_erased    BIGINT      NOT NULL,
    pending_files    VARCHAR[],
    raw_redacted_at  TIMESTAMPTZ
);

COMMENT ON TABLE eventstore.erasures IS 'One row per processed erasure. The client''s events are tombstoned in the same transaction (stream_id erased-<position>, payload {"erased_by": <position>}); no pseudonym is kept here.';
COMMENT ON COLUMN eventstore.erasures.position IS 'Position of the (tombstoned) ErasureRequested event.';
COMMENT ON COLUMN eventstore.erasures.firm_id IS 'The coaching firm (tenant).';
COMMENT ON COLUMN eventstore.erasures.erased_token IS 'HMAC of the client''s pseudonym under the firm''s key: matches the client''s records if they arrive again (they are refused), matches no stored row.';
COMMENT ON COLUMN eventstore.erasures.requested_at IS 'When the client asked (UTC).';
COMMENT ON COLUMN eventstore.erasures.erased_at IS 'When the events and projection rows were erased (UTC).';
COMMENT ON COLUMN eventstore.erasures.events_erased IS 'Events tombstoned, the erasure event included.';
COMMENT ON COLUMN eventstore.erasures.pending_files IS 'Landing files to redact (names only); kept for the record.';
COMMENT ON COLUMN eventstore.erasures.raw_redacted_at IS 'When the raw landing files were rewritten without the client; null while pending (finished by the next ingest or erase).';

-- Which key the pseudonyms in this log were made with: a warehouse is written under one key.
CREATE TABLE IF NOT EXISTS eventstore.key_fingerprint (
    fingerprint  VARCHAR     NOT NULL,
    set_at       TIMESTAMPTZ NOT NULL
);

COMMENT ON TABLE eventstore.key_fingerprint IS 'One row: a one-way fingerprint of the pseudonymisation key the log was written with. Appending under another key is refused (one client would become two and an erasure would miss the old rows).';
COMMENT ON COLUMN eventstore.key_fingerprint.fingerprint IS 'First 16 hex characters of HMAC(key, "sealdeal-key-check"): tells keys apart, reveals nothing of the key.';
COMMENT ON COLUMN eventstore.key_fingerprint.set_at IS 'When the first append under this key happened (UTC).';

-- Which schema files this warehouse was last brought up to: opening a store skips them when
-- unchanged (re-running every CREATE IF NOT EXISTS and COMMENT took ~1 s per store opened).
CREATE TABLE IF NOT EXISTS eventstore.schema_applied (
    digest      VARCHAR     NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL
);

COMMENT ON TABLE eventstore.schema_applied IS 'One row: the SHA-256 of the schema files (warehouse/sql/*.sql) last applied, and when. A store opened with the same files and every table present does not apply them again.';
COMMENT ON COLUMN eventstore.schema_applied.digest IS 'SHA-256 of the schema files'' text, in name order.';
COMMENT ON COLUMN eventstore.schema_applied.applied_at IS 'When they were applied (UTC).';
