"""burst: a token (or an anonymous client fingerprint) suddenly far faster than its own usual pace.

Judged against the entity itself, not the population: a caller that usually makes 4 calls an hour
and suddenly makes 8 in five minutes is bursting, while a busy integration at 500 an hour is not.
The baseline rate per 5 minutes is the entity's median hourly count / 12 over its active hours
(robust to the burst itself), or, when the database holds earlier days, the median of its daily
baselines in `entity_rate_daily`. Counts are Poisson-like, so the threshold is the variance-
stabilised bound (sqrt(rate) + z/2)^2: about rate + z x sqrt(rate), and sane for small rates.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
from pydantic import Field

from gatewarden.detectors.base import Detector, Window
from gatewarden.detectors.sqlparts import stable_mode
from gatewarden.detectors.stats import findings_select, fingerprint_match
from gatewarden.settings import DetectorSettings

# scope -> rows of `win` it covers; fingerprints only for anonymous traffic, tokens cover the rest.
SCOPES = {"token": "token IS NOT NULL", "fingerprint": "token IS NULL AND fingerprint IS NOT NULL"}


class Settings(DetectorSettings):
    z: float = Field(4.0, gt=0, description="Poisson standard deviations above the baseline a 5-minute bucket must reach.")
    min_burst: int = Field(6, ge=1, description="Least requests in one 5-minute bucket to call it a burst at all.")
    min_active_hours: int = Field(
        3, ge=1, description="Without history, the entity's own baseline needs this many active hours to mean anything."
    )
    min_active_buckets: int = Field(
        6, ge=1, description="...and this many active 5-minute buckets: an entity seen in a few buckets has no pace to depart from."
    )
    history_days: int = Field(28, ge=1, description="Earlier days of entity_rate_daily that form the history baseline.")
    high_score: float = Field(3.0, gt=1, description="Observed/threshold at which a burst alone justifies throttling hard.")


class Burst(Detector):
    name = "burst"
    summary = "A token or anonymous fingerprint far above its own usual rate in a 5-minute window."

    def findings_sql(self, con: duckdb.DuckDBPyConnection, window: Window) -> str | None:
        s: Settings = self.settings  # type: ignore[assignment]
        day = window.start.date()
        whole_day = window.end - window.start == timedelta(days=1) and window.start.time() == window.start.min.time()
        # API calls only: a page load pulls a dozen assets in a second, and a person clicking through the web app or
        # the mobile app is bursty by nature. Interactive entities (they load pages, browse with a browser, or hold a
        # session JWT that expires within the hour, as issued by a login) are judged by other detectors; a burst is
        # a program on an API key calling far faster than its own usual pace.
        rates = " UNION ALL ".join(f"""
            SELECT '{scope}' AS scope, value, ts FROM (
                SELECT {'token' if scope == 'token' else 'fingerprint'} AS value, ts, is_static,
                       bool_or(is_static OR token_exp IS NOT NULL) OVER (PARTITION BY value) AS loads_pages,
                       avg(CASE WHEN ua_class = 'browser' THEN 1.0 ELSE 0.0 END) OVER (PARTITION BY value) AS browser_share
                FROM win WHERE {where})
            WHERE NOT is_static AND NOT loads_pages AND browser_share < 0.5""" for scope, where in SCOPES.items())
        con.execute(f"""
        CREATE OR REPLACE TEMP TABLE gw_burst_rates AS
        WITH r AS ({rates}),
        b5 AS (SELECT scope, value, time_bucket(INTERVAL 5 MINUTE, ts) AS bucket, count(*) AS n FROM r GROUP BY ALL),
        h AS (SELECT scope, value, date_trunc('hour', ts) AS hour, count(*) AS n FROM r GROUP BY ALL),
        hs AS (SELECT scope, value, count(*) AS active_hours, sum(n) AS requests, median(n) / 12.0 AS p50_rate_5m
               FROM h GROUP BY ALL),
        bs AS (SELECT scope, value, quantile_cont(n, 0.95) AS p95_rate_5m, max(n) AS max_rate_5m, count(*) AS active_buckets,
                      arg_max(bucket, n) AS peak_bucket FROM b5 GROUP BY ALL)
        SELECT * EXCLUDE (active_buckets), active_buckets FROM hs JOIN bs USING (scope, value)
        """)
        if whole_day:
            con.execute("DELETE FROM entity_rate_daily WHERE day = ?", [day])
            con.execute("""INSERT INTO entity_rate_daily
                SELECT ?, scope, value, requests, active_hours, p50_rate_5m, p95_rate_5m, max_rate_5m FROM gw_burst_rates""", [day])
        con.execute(f"""
        CREATE OR REPLACE TEMP TABLE gw_burst_candidates AS
        WITH hist AS (
            SELECT scope, value, median(p50_rate_5m) AS rate, count(*) AS days, max(p95_rate_5m) AS p95
            FROM entity_rate_daily WHERE day < ? AND day >= ? GROUP BY scope, value
        ),
        j AS (
            SELECT r.*, hist.days, hist.p95 AS history_p95,
                   CASE WHEN hist.rate IS NOT NULL THEN hist.rate
                        WHEN r.active_hours >= {s.min_active_hours} AND r.active_buckets >= {s.min_active_buckets}
                        THEN r.p50_rate_5m END AS baseline
            FROM gw_burst_rates r LEFT JOIN hist USING (scope, value)
        ),
        t AS (SELECT *, greatest({s.min_burst}, pow(sqrt(baseline) + {s.z} / 2.0, 2)) AS threshold FROM j WHERE baseline IS NOT NULL)
        SELECT scope, value, 'max_requests_5m' AS metric, max_rate_5m AS observed, threshold,
               CASE WHEN max_rate_5m >= {s.high_score} * threshold THEN 'high'
                    WHEN max_rate_5m >= 1.5 * threshold THEN 'medium' ELSE 'low' END AS severity,
               peak_bucket, baseline, days, history_p95, active_hours, requests AS window_requests
        FROM t WHERE max_rate_5m >= threshold
        """, [day, day - timedelta(days=s.history_days)])
        parts = []
        modes = [stable_mode(f"w.{c}") for c in ("ja4", "ja3", "user_agent", "accept_language")]
        for scope in SCOPES:
            match = ("json_object('token', c.value)" if scope == "token" else
                     f"""(SELECT {fingerprint_match(*modes)}
                         FROM win w WHERE w.fingerprint = c.value)""")
            con.execute(f"""
            CREATE OR REPLACE TEMP TABLE gw_burst_{scope} AS
            SELECT c.scope, c.value, c.metric, c.observed, c.threshold, c.severity, {match} AS match,
                   json_object('window_hours', {window.hours}, 'bucket_minutes', 5, 'peak_bucket_start', c.peak_bucket,
                               'baseline_rate_5m', round(c.baseline, 4),
                               'baseline_source', CASE WHEN c.days IS NULL THEN 'this window' ELSE 'history' END,
                               'history_days', c.days, 'history_p95_rate_5m', c.history_p95, 'active_hours', c.active_hours,
                               'window_requests', c.window_requests, 'z', {s.z}) AS details
            FROM gw_burst_candidates c WHERE c.scope = '{scope}'
            """)
            parts.append(findings_select(self.name, f"gw_burst_{scope}", "token" if scope == "token" else "fingerprint"))
        return " UNION ALL ".join(parts)
