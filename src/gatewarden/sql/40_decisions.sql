-- What gatewarden told the gateway to do. One row per (decision run, decision): the history of
-- every run is kept, so repeat offenders escalate (offence_count) and `diff` compares runs.
-- `match` is a JSON object of canonical field -> value; a request is hit when every key matches
-- (client_ip may hold a CIDR). `reasons` is a JSON list of {detector, metric, value, threshold}.
CREATE TABLE IF NOT EXISTS decisions (
    id             VARCHAR NOT NULL,      -- deterministic: hash of scope, value, window
    decision_run   VARCHAR NOT NULL,      -- decision_runs.decision_run that issued it
    scope          VARCHAR NOT NULL,      -- token | ip | cidr | asn | fingerprint | session
    value          VARCHAR NOT NULL,
    action         VARCHAR NOT NULL,      -- throttle | challenge | block (the ladder, weakest first)
    match          JSON NOT NULL,
    reasons        JSON NOT NULL,
    detectors      VARCHAR[],             -- distinct detectors behind the reasons
    requests       BIGINT,                -- evidence: the entity's requests in the window
    first_seen     TIMESTAMP,
    last_seen      TIMESTAMP,
    cost           DOUBLE,
    created_at     TIMESTAMP NOT NULL,    -- on the data's clock (the window end), so re-runs are byte-identical
    expires_at     TIMESTAMP NOT NULL,
    ttl_s          BIGINT NOT NULL,
    offence_count  INTEGER NOT NULL,      -- 1 on the first offence; escalates the TTL
    limit_requests BIGINT,                -- throttle only: requests allowed per limit_per_s seconds
    limit_per_s    BIGINT,
    window_start   TIMESTAMP NOT NULL,
    window_end     TIMESTAMP NOT NULL,
    status         VARCHAR NOT NULL,      -- active | expired | allowlisted | suppressed
    status_reason  VARCHAR,               -- why allowlisted/suppressed/expired (allowlist entry, merged into which cidr)
    reissued       BOOLEAN NOT NULL DEFAULT false  -- carried over from an earlier run while still active (not a new offence)
);

-- One row per decide run: its window, what it decided and whether the safety valve let it out.
CREATE TABLE IF NOT EXISTS decision_runs (
    decision_run       VARCHAR PRIMARY KEY,  -- hash of window and config
    window_start       TIMESTAMP NOT NULL,
    window_end         TIMESTAMP NOT NULL,
    generated_at       TIMESTAMP NOT NULL,   -- = window_end: deterministic
    findings           BIGINT,
    active             BIGINT,               -- decisions written to the gateway files
    blocks             BIGINT,
    challenges         BIGINT,
    throttles          BIGINT,
    allowlisted        BIGINT,
    suppressed         BIGINT,
    clean_requests_hit BIGINT,               -- requests without findings that active block/challenge decisions stop
    clean_share        DOUBLE,
    clean_tokens_hit   BIGINT,
    clean_token_share  DOUBLE,
    outcome            VARCHAR NOT NULL,     -- written | safety_valve
    out_dir            VARCHAR,
    started_at         TIMESTAMP,
    finished_at        TIMESTAMP
);
-- The safety valve's limit (decisions.safety_max_clean_share) the run was held to; added after the first release.
ALTER TABLE decision_runs ADD COLUMN IF NOT EXISTS safety_limit DOUBLE;
