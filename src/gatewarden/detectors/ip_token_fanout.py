"""ip_token_fanout: one address (or /24, /64) cycling through many tokens: token rotation, free-tier farming.

The count alone cannot tell a farm from a corporate NAT or a carrier-grade NAT address, where
many real people share one address. What separates them is the tokens themselves:

- throwaway tokens are new (no requests before this window, when the database has history),
  spend only a few requests each, are seen from this address only, and are driven by scripts;
- NAT tokens have history, do real work (many requests), roam to other networks (home, mobile),
  and come from browsers that load pages.

So a finding's severity follows the share of throwaway tokens, not just how many tokens there are.
"""

from __future__ import annotations

import duckdb
from pydantic import Field

from gatewarden.detectors.base import Detector, Window
from gatewarden.detectors.stats import findings_select, log_mad_threshold
from gatewarden.settings import DetectorSettings


class Settings(DetectorSettings):
    k: float = Field(4.0, gt=0, description="Robust standard deviations (log scale) above the typical address in distinct tokens.")
    floor: float = Field(5, ge=1, description="Least distinct tokens to report at all: a household or small office shares a few.")
    min_throwaway_share: float = Field(
        0.25, ge=0, le=1, description="Share of throwaway tokens below which an address is not reported at all: a NAT or CGNAT "
        "address whose tokens behave like independent people (history, real work, roaming, browsers) is no finding, "
        "whatever its count."
    )
    throwaway_share_medium: float = Field(
        0.5, ge=0, le=1, description="Share of throwaway tokens from which a fan-out is more than a NAT (medium)."
    )
    throwaway_share_high: float = Field(
        0.8, ge=0, le=1, description="Share of throwaway tokens from which the address is a farm (high, with score >= high_score)."
    )
    high_score: float = Field(2.0, gt=1, description="Observed/threshold needed, with the throwaway share, for high severity.")


class IpTokenFanout(Detector):
    name = "ip_token_fanout"
    summary = "An address or network using many throwaway tokens (token rotation, free-tier farming)."

    def findings_sql(self, con: duckdb.DuckDBPyConnection, window: Window) -> str | None:
        s: Settings = self.settings  # type: ignore[assignment]
        has_history = con.execute("SELECT count(*) > 0 FROM (SELECT 1 FROM requests WHERE ts < ? LIMIT 1)", [window.start]).fetchall()[0][0]
        history = ("SELECT DISTINCT token FROM requests WHERE ts < ? AND token IN (SELECT token FROM win)" if has_history
                   else "SELECT CAST(NULL AS VARCHAR) AS token WHERE false")
        # Per token: is it a throwaway? Thresholds on "few requests" come from the day's own token population.
        con.execute(f"""
        CREATE OR REPLACE TEMP TABLE gw_itf_tokens AS
        WITH t AS (
            SELECT token, count(*) AS requests, count(DISTINCT client_ip) AS ips, count(DISTINCT net) AS nets,
                   avg(automated) AS automated, avg(CASE WHEN ua_class = 'browser' THEN 1.0 ELSE 0.0 END) AS browser_share
            FROM win WHERE token IS NOT NULL GROUP BY token
        ),
        typical AS (SELECT quantile_cont(requests, 0.5) AS median_requests FROM t),
        old AS ({history})
        SELECT t.*, old.token IS NOT NULL AS has_history,
               (old.token IS NULL AND t.requests <= typical.median_requests AND t.nets = 1
                AND (t.automated >= 0.5 OR t.browser_share < 0.5)) AS throwaway,
               typical.median_requests
        FROM t CROSS JOIN typical LEFT JOIN old ON t.token = old.token
        """, [window.start] if has_history else [])
        candidates = []
        for scope, key in (("ip", "client_ip"), ("cidr", "net")):
            con.execute(f"""
            CREATE OR REPLACE TEMP TABLE gw_itf_{scope} AS
            WITH e AS (
                SELECT w.{key} AS value, count(DISTINCT w.token) AS tokens, count(DISTINCT w.client_ip) AS ips
                FROM win w WHERE w.token IS NOT NULL AND w.{key} IS NOT NULL GROUP BY 1
            ),
            th AS (SELECT count(*) AS population, {log_mad_threshold('tokens', s.k, s.floor)} AS threshold FROM e),
            ev AS (
                SELECT x.value, avg(CASE WHEN t.throwaway THEN 1.0 ELSE 0.0 END) AS throwaway_share,
                       avg(CASE WHEN t.has_history THEN 1.0 ELSE 0.0 END) AS history_share,
                       avg(CASE WHEN t.nets = 1 THEN 1.0 ELSE 0.0 END) AS exclusive_share,
                       median(t.requests) AS median_requests_per_token, avg(t.automated) AS automated_share,
                       any_value(t.median_requests) AS population_median_requests
                FROM (SELECT DISTINCT {key} AS value, token FROM win WHERE token IS NOT NULL) x
                JOIN gw_itf_tokens t USING (token) GROUP BY x.value
            )
            SELECT '{scope}' AS scope, CAST(e.value AS VARCHAR) AS value, 'distinct_tokens' AS metric,
                   e.tokens AS observed, th.threshold,
                   CASE WHEN ev.throwaway_share >= {s.throwaway_share_high} AND e.tokens >= {s.high_score} * th.threshold
                        THEN 'high' END AS sev0,
                   ev.throwaway_share,
                   json_object('client_ip', e.value) AS match,
                   json_object('window_hours', {window.hours}, 'distinct_ips', e.ips, 'population', th.population, 'k', {s.k},
                               'throwaway_share', round(ev.throwaway_share, 3), 'history_share', round(ev.history_share, 3),
                               'history_available', {str(has_history).lower()},
                               'exclusive_share', round(ev.exclusive_share, 3),
                               'median_requests_per_token', ev.median_requests_per_token,
                               'population_median_requests_per_token', ev.population_median_requests,
                               'automated_share', round(ev.automated_share, 3)) AS details
            FROM e CROSS JOIN th JOIN ev ON ev.value = e.value
            WHERE e.tokens >= th.threshold AND ev.throwaway_share >= {s.min_throwaway_share} {"AND e.ips >= 2" if scope == "cidr" else ""}
            """)
            candidates.append(f"""SELECT scope, value, metric, observed, threshold,
                CASE WHEN sev0 = 'high' THEN 'high' WHEN throwaway_share >= {s.throwaway_share_medium} THEN 'medium' ELSE 'low' END
                    AS severity, match, details FROM gw_itf_{scope}""")
        con.execute("CREATE OR REPLACE TEMP TABLE gw_itf_candidates AS " + " UNION ALL ".join(candidates))
        return (findings_select(self.name, "(SELECT * FROM gw_itf_candidates WHERE scope = 'ip')", "client_ip")
                + " UNION ALL " + findings_select(self.name, "(SELECT * FROM gw_itf_candidates WHERE scope = 'cidr')", "net"))
