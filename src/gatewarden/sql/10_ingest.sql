-- One row per input line that could not become a request: nothing is dropped silently.
CREATE TABLE IF NOT EXISTS rejects (
    source_file VARCHAR NOT NULL,
    source_line BIGINT,          -- 1-based; NULL for file-level problems with no line
    reason      VARCHAR NOT NULL,
    raw         VARCHAR,         -- the line, secrets redacted, cut to ingest.reject_text_bytes
    format      VARCHAR,
    ingested_at TIMESTAMP DEFAULT current_timestamp
);

-- What each ingested file was, so the same content is never ingested twice and a file that
-- grew since (a log still being written) replaces its earlier rows.
CREATE TABLE IF NOT EXISTS ingested_files (
    source_file  VARCHAR PRIMARY KEY,
    content_hash VARCHAR NOT NULL,
    size_bytes   BIGINT,
    format       VARCHAR,
    lines        BIGINT,
    accepted     BIGINT,
    rejected     BIGINT,
    min_ts       TIMESTAMP,
    max_ts       TIMESTAMP,
    ingested_at  TIMESTAMP DEFAULT current_timestamp
);
