"""token_ip_fanout: one token used from many networks at once, the signature of a leaked key.

Per token: distinct /24 (/64) networks, ASNs and countries over the window, distinct networks in
its busiest hour, and the most networks active in one 10-minute bucket. Each metric is judged
against the population of tokens on a log scale (median + k x MAD), never below a floor.

Networks, not addresses: a customer running a few servers in one datacenter range, or a phone
hopping between addresses of one carrier, stays within a few /24s and one ASN. A travelling user
is sequential (one network at a time), so concurrency stays at one or two. A leaked key is used by
many unrelated parties simultaneously: many networks, ASNs and countries in the same minutes.
"""

from __future__ import annotations

import duckdb
from pydantic import Field

from gatewarden.detectors.base import Detector, Window
from gatewarden.detectors.stats import findings_select, log_mad_threshold
from gatewarden.settings import DetectorSettings

METRICS = ("concurrent_nets_10m", "nets_1h", "nets", "asns", "countries")


class Settings(DetectorSettings):
    k: float = Field(4.0, gt=0, description="Robust standard deviations (log scale) above the typical token a metric must reach.")
    min_requests: int = Field(
        5, ge=1, description="Tokens with fewer requests are too thin to judge; they still count in the population."
    )
    floor_concurrent: float = Field(
        3, ge=1, description="Least networks active in one 10-minute bucket to report: a user moves between at most two at once "
        "(wifi and mobile).",
    )
    floor_total: float = Field(
        6, ge=1, description="Least distinct networks/ASNs over the window to report: a travelling user crosses a handful."
    )
    high_score: float = Field(
        2.0, gt=1, description="Observed/threshold at which the strongest metric alone justifies blocking the token ...")
    high_min_metrics: int = Field(
        3, ge=1, description="... provided this many metrics are over their thresholds (concurrency and spread agree)."
    )


class TokenIpFanout(Detector):
    name = "token_ip_fanout"
    summary = "A token used from many networks, ASNs and countries at the same time (leaked key)."

    def findings_sql(self, con: duckdb.DuckDBPyConnection, window: Window) -> str | None:
        s: Settings = self.settings  # type: ignore[assignment]
        # Distinct counts over the day's distinct (token, address) and (token, 10 minutes, network) rows, not over its
        # requests: DISTINCT aggregates of every request took DuckDB's slow path. Hours are whole 10-minute buckets.
        con.execute("""
        CREATE OR REPLACE TEMP TABLE gw_tif_tokens AS
        WITH addresses AS (
            SELECT token, client_ip, net, asn, country, count(*) AS requests FROM win WHERE token IS NOT NULL GROUP BY ALL),
        nets_10m AS MATERIALIZED (
            SELECT DISTINCT token, time_bucket(INTERVAL 10 MINUTE, ts) AS b10, net FROM win WHERE token IS NOT NULL),
        per_10m AS (SELECT token, b10, count(net) AS n FROM nets_10m GROUP BY token, b10),
        per_1h AS (SELECT token, count(*) AS n
                   FROM (SELECT DISTINCT token, date_trunc('hour', b10) AS h, net FROM nets_10m WHERE net IS NOT NULL)
                   GROUP BY token, h)
        SELECT t.token, t.requests, t.ips, t.nets, t.asns, t.countries,
               c.concurrent_nets_10m, coalesce(o.nets_1h, 0) AS nets_1h
        FROM (SELECT token, CAST(sum(requests) AS BIGINT) AS requests, count(DISTINCT client_ip) AS ips, count(DISTINCT net) AS nets,
                     count(DISTINCT asn) AS asns, count(DISTINCT country) AS countries
              FROM addresses GROUP BY token) t
        JOIN (SELECT token, max(n) AS concurrent_nets_10m FROM per_10m GROUP BY token) c USING (token)
        LEFT JOIN (SELECT token, max(n) AS nets_1h FROM per_1h GROUP BY token) o USING (token)
        """)
        floors = {"concurrent_nets_10m": s.floor_concurrent, "nets_1h": s.floor_concurrent, "nets": s.floor_total,
                  "asns": s.floor_total, "countries": s.floor_concurrent}
        thresholds = ", ".join(f"{log_mad_threshold(m, s.k, floors[m])} AS t_{m}" for m in METRICS)
        con.execute(f"CREATE OR REPLACE TEMP TABLE gw_tif_thresholds AS SELECT count(*) AS population, {thresholds} "
                    f"FROM gw_tif_tokens")
        scores = ", ".join(f"CAST(t.{m} AS DOUBLE) / h.t_{m} AS s_{m}" for m in METRICS)
        over = " + ".join(f"CASE WHEN s_{m} >= 1 THEN 1 ELSE 0 END" for m in METRICS)
        best_metric = "CASE " + " ".join(f"WHEN best = s_{m} THEN '{m}'" for m in METRICS) + " END"
        observed = "CASE " + " ".join(f"WHEN best = s_{m} THEN {m}" for m in METRICS) + " END"
        threshold = "CASE " + " ".join(f"WHEN best = s_{m} THEN t_{m}" for m in METRICS) + " END"
        details = ", ".join(f"'{m}', {m}, 'threshold_{m}', round(t_{m}, 3)" for m in METRICS)
        con.execute(f"""
        CREATE OR REPLACE TEMP TABLE gw_tif_candidates AS
        WITH scored AS (
            SELECT t.*, h.*, {scores} FROM gw_tif_tokens t CROSS JOIN gw_tif_thresholds h WHERE t.requests >= {s.min_requests}
        ),
        ranked AS (SELECT *, greatest({', '.join(f's_{m}' for m in METRICS)}) AS best, {over} AS metrics_over FROM scored)
        SELECT 'token' AS scope, token AS value, {best_metric} AS metric, {observed} AS observed, {threshold} AS threshold,
               CASE WHEN best >= {s.high_score} AND metrics_over >= {s.high_min_metrics} THEN 'high'
                    WHEN metrics_over >= 2 THEN 'medium' ELSE 'low' END AS severity,
               json_object('token', token) AS match,
               json_object('window_hours', {window.hours}, 'requests', requests, 'ips', ips, 'metrics_over', metrics_over,
                           'population_tokens', population, 'k', {s.k}, {details}) AS details
        FROM ranked WHERE best >= 1 AND (s_concurrent_nets_10m >= 1 OR s_nets_1h >= 1)
        """)
        return findings_select(self.name, "gw_tif_candidates", "token")
