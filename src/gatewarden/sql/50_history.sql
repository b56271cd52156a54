-- Per entity and day: how fast it usually goes, in 5-minute buckets. Written by the burst detector
-- when it analyses a whole UTC day (delete-then-insert of that day, so re-runs are idempotent);
-- read as the entity's own history on later days. Complements entity_daily (50_state.sql).
CREATE TABLE IF NOT EXISTS entity_rate_daily (
    day          DATE NOT NULL,
    scope        VARCHAR NOT NULL,   -- token | fingerprint
    value        VARCHAR NOT NULL,
    requests     BIGINT NOT NULL,
    active_hours INTEGER NOT NULL,   -- distinct clock hours with traffic
    p50_rate_5m  DOUBLE NOT NULL,    -- typical requests per 5 minutes while active (median hourly count / 12)
    p95_rate_5m  DOUBLE NOT NULL,    -- 95th percentile of its non-empty 5-minute buckets
    max_rate_5m  BIGINT NOT NULL     -- busiest 5-minute bucket
);
