-- gw_ts(text): a timestamp in any of the forms logs use, as a UTC TIMESTAMP (NULL if none fits).
-- Forms: RFC3339/ISO 8601 with or without offset, CLF `10/Oct/2000:13:55:36 -0700`,
-- epoch seconds, milliseconds, microseconds or nanoseconds (integer or fractional).
-- The magnitude picks the unit: 1e11 s is the year 5138, so anything larger is a finer unit.
CREATE OR REPLACE TEMP MACRO gw_ts(x) AS (
    CASE
        WHEN x IS NULL OR trim(x) = '' THEN NULL
        WHEN regexp_full_match(trim(x), '[0-9]+(\.[0-9]+)?') THEN
            CASE
                WHEN TRY_CAST(trim(x) AS DOUBLE) >= 1e17 THEN make_timestamp(CAST(TRY_CAST(trim(x) AS DOUBLE) / 1000 AS BIGINT))
                WHEN TRY_CAST(trim(x) AS DOUBLE) >= 1e14 THEN make_timestamp(CAST(TRY_CAST(trim(x) AS DOUBLE) AS BIGINT))
                WHEN TRY_CAST(trim(x) AS DOUBLE) >= 1e11 THEN make_timestamp(CAST(TRY_CAST(trim(x) AS DOUBLE) * 1000 AS BIGINT))
                ELSE make_timestamp(CAST(TRY_CAST(trim(x) AS DOUBLE) * 1000000 AS BIGINT))
            END
        WHEN x LIKE '%/%/%:%' THEN CAST(try_strptime(trim(x), '%d/%b/%Y:%H:%M:%S %z') AS TIMESTAMP)
        ELSE CAST(TRY_CAST(regexp_replace(trim(x), '(\.[0-9]{6})[0-9]+', '\1') AS TIMESTAMPTZ) AS TIMESTAMP)
    END
);

-- gw_clf_ts(text): fast path for CLF timestamps only (the hot path of nginx/Apache parsing).
CREATE OR REPLACE TEMP MACRO gw_clf_ts(x) AS CAST(try_strptime(x, '%d/%b/%Y:%H:%M:%S %z') AS TIMESTAMP);
