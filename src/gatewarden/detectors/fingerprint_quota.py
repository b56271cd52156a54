"""fingerprint_quota: anonymous usage per client fingerprint over a quota derived from the population.

Low-and-slow scraping through residential proxies spreads over thousands of addresses sending
1-4 requests each, so no address and no token stands out. What the scraper cannot rotate cheaply
is its client: TLS stack (JA4/JA3), browser build, language. `win.fingerprint` hashes exactly
those, so the fingerprint's anonymous usage is measured against quotas: the typical fingerprint's requests and
distinct addresses times a robust band (log scale median + k x MAD); the finding names the metric
that is further over its quota.

Popular real browsers share fingerprints too; they differ in shape: many sessions with page
loads and cookies, several requests per address. High severity therefore also needs the spread
shape (few requests per address, many addresses) and either mostly-automated traffic or no page loads.
"""

from __future__ import annotations

import duckdb
from pydantic import Field

from gatewarden.detectors.base import Detector, Window
from gatewarden.detectors.sqlparts import stable_mode
from gatewarden.detectors.stats import findings_select, fingerprint_match, log_mad_threshold
from gatewarden.settings import DetectorSettings


class Settings(DetectorSettings):
    k: float = Field(4.0, gt=0, description="Robust standard deviations (log scale) above the typical fingerprint's usage.")
    floor: float = Field(
        50, ge=1, description="Least anonymous requests per fingerprint to report: below it no quota is worth enforcing."
    )
    min_population_requests: int = Field(
        5, ge=1, description="Fingerprints with fewer anonymous requests stay out of the quota's population: one-off visits "
        "say nothing about what a fingerprint in use consumes, and a long tail of them inflates the spread.",
    )
    spread_requests_per_ip: float = Field(
        4.0, gt=0, description="Median requests per address at or below which usage is 'spread' (rotating proxies send 1-4)."
    )
    spread_min_ips: int = Field(
        20, ge=1, description="Least distinct addresses for the spread shape: a handful of addresses is a household."
    )
    high_score: float = Field(2.0, gt=1, description="Observed/quota needed, with the spread shape, for high severity.")


class FingerprintQuota(Detector):
    name = "fingerprint_quota"
    summary = "Anonymous usage of one client fingerprint far above the population's quota (residential-proxy scraping)."

    def findings_sql(self, con: duckdb.DuckDBPyConnection, window: Window) -> str | None:
        s: Settings = self.settings  # type: ignore[assignment]
        con.execute(f"""
        CREATE OR REPLACE TEMP TABLE gw_fpq_candidates AS
        -- Only the columns read below: `anon` is read twice, so DuckDB materializes it, and whole rows of a 10M day spill.
        WITH anon AS (SELECT fingerprint, client_ip, net, asn, session, automated, ja4, ja3, user_agent, accept_language,
                             ua_family, ua_major, is_hosting
                      FROM win WHERE token IS NULL AND fingerprint IS NOT NULL AND NOT is_static),
        per_ip AS (SELECT fingerprint, client_ip, count(*) AS n FROM anon GROUP BY ALL),
        f AS (
            SELECT fingerprint, count(*) AS requests, count(DISTINCT client_ip) AS ips, count(DISTINCT net) AS nets,
                   count(DISTINCT asn) AS asns, count(DISTINCT session) AS sessions, avg(automated) AS automated_share,
                   {stable_mode('ja4')} AS ja4, {stable_mode('ja3')} AS ja3,
                   {stable_mode('user_agent')} AS user_agent, count(DISTINCT user_agent) AS user_agents,
                   {stable_mode('accept_language')} AS accept_language, any_value(ua_family) AS ua_family,
                   any_value(ua_major) AS ua_major, bool_or(is_hosting) AS is_hosting
            FROM anon GROUP BY fingerprint
        ),
        shape AS (SELECT fingerprint, median(n) AS median_per_ip FROM per_ip GROUP BY fingerprint),
        pages AS (
            -- Real browsers behind a shared fingerprint load pages: static assets in the same sessions.
            SELECT fingerprint, avg(CASE WHEN is_static THEN 1.0 ELSE 0.0 END) AS static_share FROM win
            WHERE fingerprint IS NOT NULL GROUP BY fingerprint
        ),
        q AS (SELECT count(*) AS population, {log_mad_threshold('requests', s.k, s.floor)} AS quota,
                     {log_mad_threshold('ips', s.k, s.spread_min_ips)} AS ip_quota
              FROM f WHERE requests >= {s.min_population_requests}),
        scored AS (
            SELECT f.*, q.*, shape.median_per_ip, pages.static_share,
                   greatest(f.requests / q.quota, f.ips / q.ip_quota) AS best,
                   f.requests / q.quota >= f.ips / q.ip_quota AS by_requests
            FROM f CROSS JOIN q JOIN shape USING (fingerprint) LEFT JOIN pages USING (fingerprint)
        ),
        SELECT 'fingerprint' AS scope, fingerprint AS value,
               CASE WHEN by_requests THEN 'anonymous_requests' ELSE 'anonymous_addresses' END AS metric,
               CASE WHEN by_requests THEN requests ELSE ips END AS observed,
               CASE WHEN by_requests THEN quota ELSE ip_quota END AS threshold,
               CASE WHEN best >= {s.high_score} AND median_per_ip <= {s.spread_requests_per_ip} AND ips >= {s.spread_min_ips}
                         AND (automated_share >= 0.5 OR coalesce(static_share, 0) < 0.05) THEN 'high'
                    WHEN median_per_ip <= {s.spread_requests_per_ip} AND ips >= {s.spread_min_ips} THEN 'medium'
                    ELSE 'low' END AS severity,
               {fingerprint_match('ja4', 'ja3', 'user_agent', 'accept_language')} AS match,
               json_object('window_hours', {window.hours}, 'anonymous_requests', requests, 'request_quota', round(quota, 2),
                           'distinct_ips', ips, 'address_quota', round(ip_quota, 2), 'distinct_nets', nets, 'distinct_asns', asns,
                           'sessions', sessions, 'median_requests_per_ip', median_per_ip,
                           'automated_share', round(automated_share, 3), 'static_share', round(static_share, 3),
                           'ua_family', ua_family, 'ua_major', ua_major, 'is_hosting', is_hosting,
                           'user_agents_in_fingerprint', user_agents, 'population_fingerprints', population,
                           'k', {s.k}) AS details
        FROM scored WHERE best >= 1
        """)
        return findings_select(self.name, "gw_fpq_candidates", "fingerprint")
