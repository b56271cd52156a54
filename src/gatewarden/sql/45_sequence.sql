-- Most frequent endpoint 2-grams (transitions) and 3-grams of an analysis window's sessions, for the report.
CREATE TABLE IF NOT EXISTS sequence_ngrams (
    window_start TIMESTAMP NOT NULL,
    window_end   TIMESTAMP NOT NULL,
    n            INTEGER NOT NULL,     -- 2 or 3
    ngram        VARCHAR NOT NULL,     -- `/v1/models -> /v1/chat/completions`
    requests     BIGINT,               -- occurrences
    sessions     BIGINT                -- distinct sessions it occurred in
);
