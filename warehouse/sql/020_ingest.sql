-- Bookkeeping of ingestion: which landing files were taken in, and which records were not.
CREATE SCHEMA IF NOT EXISTS ingest;

CREATE TABLE IF NOT EXISTS ingest.files (
    content_hash     VARCHAR     PRIMARY KEY,
    file_name        VARCHAR     NOT NULL,
    file_format      VARCHAR,
    size_bytes       BIGINT      NOT NULL,
    status           VARCHAR     NOT NULL,
    reason           VARCHAR,
    records          BIGINT      NOT NULL,
    events_appended  BIGINT      NOT NULL,
    duplicates       BIGINT      NOT NULL,
    conflicts        BIGINT      NOT NULL,
    quarantined      BIGINT      NOT NULL,
    first_position   BIGINT,
    last_position    BIGINT,
    processed_at     TIMESTAMPTZ NOT NULL
);

COMMENT ON TABLE ingest.files IS 'Manifest of landing files, keyed by content hash: a file (or a copy of it under another name) is taken in once. Held files are listed with the reason.';
COMMENT ON COLUMN ingest.files.content_hash IS 'The delivery''s identity: SHA-256 of the delivering firm''s zone and the file''s bytes (of the bytes alone for a file outside every zone).';
COMMENT ON COLUMN ingest.files.file_name IS 'Name of the file in the landing zone when it was processed.';
COMMENT ON COLUMN ingest.files.file_format IS 'jsonl or csv.';
COMMENT ON COLUMN ingest.files.size_bytes IS 'Size of the file in bytes.';
COMMENT ON COLUMN ingest.files.status IS 'ingested (its good records are in the event log) or held (nothing of it was used; see reason).';
COMMENT ON COLUMN ingest.files.reason IS 'Why a held file was held; null when ingested.';
COMMENT ON COLUMN ingest.files.records IS 'Records read from the file.';
COMMENT ON COLUMN ingest.files.events_appended IS 'New events the file added to the log.';
COMMENT ON COLUMN ingest.files.duplicates IS 'Records already in the log with identical content (re-deliveries).';
COMMENT ON COLUMN ingest.files.conflicts IS 'Records whose id was already in the log with different content (see eventstore.conflicts).';
COMMENT ON COLUMN ingest.files.quarantined IS 'Records that failed validation (see ingest.quarantine).';
COMMENT ON COLUMN ingest.files.first_position IS 'First event position appended from the file.';
COMMENT ON COLUMN ingest.files.last_position IS 'Last event position appended from the file.';
COMMENT ON COLUMN ingest.files.processed_at IS 'When the file was processed (UTC).';

CREATE TABLE IF NOT EXISTS ingest.quarantine (
    file_hash       VARCHAR     NOT NULL,
    source_file     VARCHAR     NOT NULL,
    source_line     BIGINT      NOT NULL,
    firm_id         VARCHAR,
    record_id       VARCHAR,
    record_type     VARCHAR,
    reasons         VARCHAR[]   NOT NULL,
    quarantined_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (file_hash, source_line)
);

COMMENT ON TABLE ingest.quarantine IS 'Records that failed validation, with every rule they broke in plain words. The record itself is not kept (it may hold personal data): fix it at the source and send it again.';
COMMENT ON COLUMN ingest.quarantine.file_hash IS 'Content hash of the landing file (ingest.files.content_hash).';
COMMENT ON COLUMN ingest.quarantine.source_file IS 'Name of the landing file.';
COMMENT ON COLUMN ingest.quarantine.source_line IS 'Line of the record in the file (for CSV, the line the record starts on).';
COMMENT ON COLUMN ingest.quarantine.firm_id IS 'The firm whose landing zone delivered the record (which may name another firm: then it is refused for that).';
COMMENT ON COLUMN ingest.quarantine.record_id IS 'The firm''s record id, when it was well formed.';
COMMENT ON COLUMN ingest.quarantine.record_type IS 'debrief, outcome or erasure, when the record said so validly.';
COMMENT ON COLUMN ingest.quarantine.reasons IS 'Every rule the record broke, each a sentence naming the field and what is allowed.';
COMMENT ON COLUMN ingest.quarantine.quarantined_at IS 'When the record was quarantined (UTC).';
