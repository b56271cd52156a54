-- State kept across nights, so baselines come from history and raw requests can be pruned.
-- Every table is keyed by day and written by delete-then-insert of that day: a day that arrives
-- late or twice replaces its rows instead of adding to them.

-- Per entity and day: tokens, IPs, fingerprints, ASNs, plus scope '*' (value '*') for the whole day.
CREATE TABLE IF NOT EXISTS entity_daily (
    day             DATE NOT NULL,
    scope           VARCHAR NOT NULL,   -- token | ip | fingerprint | asn | *
    value           VARCHAR NOT NULL,
    requests        BIGINT NOT NULL,
    cost            DOUBLE,             -- estimated cost (detectors.cost); NULL when features were unavailable
    errors          BIGINT,             -- responses with status >= 400
    active_hours    INTEGER,            -- distinct clock hours with traffic
    distinct_ips    BIGINT,
    distinct_tokens BIGINT,
    distinct_asns   BIGINT,
    automated_share DOUBLE,             -- mean of features.automated; NULL when features were unavailable
    first_seen      TIMESTAMP,
    last_seen       TIMESTAMP
);

-- Every detector threshold that produced findings, per day, so drift is visible across nights.
CREATE TABLE IF NOT EXISTS threshold_daily (
    day          DATE NOT NULL,
    detector     VARCHAR NOT NULL,
    scope        VARCHAR NOT NULL,
    metric       VARCHAR NOT NULL,
    threshold    DOUBLE,               -- median over the day's findings (one value per day for derived thresholds)
    findings     BIGINT,
    max_observed DOUBLE
);

-- Rate limits as recommended each night and as published after smoothing (EWMA, bounded change).
CREATE TABLE IF NOT EXISTS rate_limit_history (
    day         DATE NOT NULL,
    scope       VARCHAR NOT NULL,
    value       VARCHAR NOT NULL,
    recommended DOUBLE NOT NULL,       -- tonight's raw recommendation
    previous    DOUBLE,                -- the smoothed limit of the latest earlier night, if any
    smoothed    DOUBLE NOT NULL,       -- what was published
    backtest    JSON                   -- the day's traffic replayed against the published limit (ratelimits.backtest)
);
-- Databases created before the backtest was stored with the limit.
ALTER TABLE rate_limit_history ADD COLUMN IF NOT EXISTS backtest JSON;
