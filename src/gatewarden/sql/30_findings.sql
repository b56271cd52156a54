-- What the detectors found. One row per (detector, scope, value, metric) in an analysis window.
-- `match` is a JSON object of canonical field -> value that selects the entity's requests
-- (client_ip may hold a CIDR); decisions copy it, so a gateway can act without gatewarden.
CREATE TABLE IF NOT EXISTS findings (
    finding_id         VARCHAR NOT NULL,      -- deterministic: hash of detector, scope, value, metric, window
    run_id             VARCHAR NOT NULL,
    detector           VARCHAR NOT NULL,
    scope              VARCHAR NOT NULL,      -- token | ip | cidr | asn | fingerprint | session
    value              VARCHAR NOT NULL,
    metric             VARCHAR NOT NULL,
    observed           DOUBLE,
    threshold          DOUBLE,
    score              DOUBLE,                -- observed relative to threshold; >= 1 means over
    severity           VARCHAR NOT NULL,      -- low | medium | high (high = strong enough to block)
    window_start       TIMESTAMP NOT NULL,
    window_end         TIMESTAMP NOT NULL,
    requests           BIGINT,
    cost               DOUBLE,                -- estimated cost of the entity's requests in the window
    first_seen         TIMESTAMP,
    last_seen          TIMESTAMP,
    sample_request_ids VARCHAR[],
    match              JSON NOT NULL,
    details            JSON,
    created_at         TIMESTAMP DEFAULT current_timestamp
);

-- One row per analysis run: the window it covered and what it cost.
CREATE TABLE IF NOT EXISTS analysis_runs (
    run_id       VARCHAR PRIMARY KEY,
    window_start TIMESTAMP NOT NULL,
    window_end   TIMESTAMP NOT NULL,
    requests     BIGINT,
    detectors    VARCHAR[],
    findings     BIGINT,
    started_at   TIMESTAMP,
    finished_at  TIMESTAMP
);
