"""Rate-limit recommendations from the traffic of legitimate entities, backtested at the published limit.

The population is **legitimate-looking traffic** (decisions/legit.py): requests of established tokens
(active for hours from one or two networks, or seen before), of browsing clients and of stolen tokens'
owner networks, minus tokens a medium or high finding accuses. Not "entities without any finding": a
low finding or a supporting detector's outlier touches most heavy callers (the batch customer, busy SDK
integrations), and leaving them out set limits from the light users alone that throttled a large share
of real customers' traffic.

For every endpoint template (and `*`, all endpoints together) x key (token, ip, fingerprint = ja4)
x window (1 min, 10 min, 1 h, 1 day), each legitimate entity's *peak* is its largest request
count in any window-long bucket of the day (tumbling buckets aligned on the UTC clock: a sliding
window's peak is at most twice that, which the headroom covers). Across entities we take p50,
p90 and p99 of the peaks, in the spirit of Cloudflare's volumetric abuse detection, and
recommend `ceil(p99 x headroom)`: p99 keeps the legitimate heavy tail inside the limit, the
headroom (default 2) absorbs the bucket alignment and tomorrow's growth. Confidence follows the
number of entities behind the statistic.

`recommend` is tonight's raw recommendation; the caller smooths it across nights (ops/state) and then
calls `backtest` with the limits it publishes: the day's traffic replayed against each published limit as
a fixed-window limiter (requests beyond the limit in a bucket are rejected, in arrival order), reported
apart for legitimate-looking requests and for the rest (flagged, attack or unjudged traffic).
"""

from __future__ import annotations

import math

import duckdb

from gatewarden.db import dicts
from gatewarden.detectors.base import Window
from gatewarden.replay import window_source

KEYS = {"token": "token", "ip": "client_ip", "fingerprint": "ja4"}  # key -> canonical field
WINDOWS_S = (60, 600, 3600, 86400)
STATISTIC = "p99"


def confidence(entities: int) -> str:
    return "high" if entities >= 200 else "medium" if entities >= 30 else "low"


def recommend(con: duckdb.DuckDBPyConnection, window: Window, legit: str, headroom: float = 2.0,
              min_entities: int = 5) -> list[dict]:
    """Tonight's raw recommendations. `legit` is a table of req_key of legitimate-looking requests (decisions/legit.py)."""
    _keyed(con, window, legit)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE rl_buckets AS
        SELECT endpoint, key, w.window_s, entity, floor(epoch(ts) / w.window_s) AS bucket, count(*) AS n
        FROM rl_keyed CROSS JOIN (SELECT unnest([{', '.join(map(str, WINDOWS_S))}]) AS window_s) w
        WHERE legit GROUP BY ALL""")
    stats = dicts(con, f"""
        WITH peaks AS (SELECT endpoint, key, window_s, entity, max(n) AS peak FROM rl_buckets GROUP BY ALL)
        SELECT endpoint, key, window_s, count(*) AS entities,
               quantile_cont(peak, 0.5) AS p50, quantile_cont(peak, 0.9) AS p90, quantile_cont(peak, 0.99) AS p99,
               max(peak) AS max_peak
        FROM peaks GROUP BY endpoint, key, window_s HAVING count(*) >= {int(min_entities)}
        ORDER BY endpoint <> '*', endpoint, key, window_s""")
    return [{
        "endpoint": s["endpoint"], "key": s["key"], "field": KEYS[s["key"]], "window_s": s["window_s"],
        "limit": max(1, math.ceil(s["p99"] * headroom)), "statistic": STATISTIC, "headroom": headroom,
        "p50": round(s["p50"], 3), "p90": round(s["p90"], 3), "p99": round(s["p99"], 3), "max": s["max_peak"],
        "entities": s["entities"], "confidence": confidence(s["entities"]),
    } for s in stats]


def _keyed(con: duckdb.DuckDBPyConnection, window: Window, legit: str) -> None:
    """rl_keyed(endpoint, key, entity, ts, req_key, legit): every request once per key it carries, per endpoint and for `*`."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE rl_win AS
        SELECT r.req_key, r.ts, coalesce(r.endpoint, '/') AS endpoint, r.token, r.client_ip, r.ja4, l.req_key IS NOT NULL AS legit
        FROM ({window_source(window.start, window.end)}) r LEFT JOIN (SELECT DISTINCT req_key FROM {legit}) l USING (req_key)""")
    union = " UNION ALL ".join(
        f"SELECT '{key}' AS key, CAST({field} AS VARCHAR) AS entity, endpoint, ts, req_key, legit FROM rl_win WHERE {field} IS NOT NULL"
        for key, field in KEYS.items())
    con.execute(f"""CREATE OR REPLACE TEMP TABLE rl_keyed AS
        WITH k AS ({union}) SELECT endpoint, key, entity, ts, req_key, legit FROM k
        UNION ALL SELECT '*', key, entity, ts, req_key, legit FROM k""")


def backtest(con: duckdb.DuckDBPyConnection, limits: list[dict]) -> None:
    """Adds `backtest` to each limit: the window's requests (in rl_keyed, from `recommend`) a fixed-window limiter at the
    limit's `limit` would reject, with the entities that hit it, for legitimate-looking requests and for the rest apart."""
    con.execute("CREATE OR REPLACE TEMP TABLE rl_limits (endpoint VARCHAR, key VARCHAR, window_s INTEGER, lim BIGINT)")
    if limits:
        con.executemany("INSERT INTO rl_limits VALUES (?, ?, ?, ?)", [[s["endpoint"], s["key"], s["window_s"], s["limit"]] for s in limits])
    totals = {(r["endpoint"], r["key"]): r for r in dicts(con, """
        SELECT endpoint, key, count(*) FILTER (WHERE legit) AS legit, count(*) FILTER (WHERE NOT legit) AS other
        FROM rl_keyed SEMI JOIN (SELECT DISTINCT endpoint, key FROM rl_limits) USING (endpoint, key) GROUP BY ALL""")}
    # Only buckets over their limit can reject anything: number their requests in arrival order, reject beyond the limit.
    # Requests are ranked once per entity in arrival order (not once per window size): a bucket is a contiguous
    # run of its entity's requests, so a request's place in its bucket is its rank minus the bucket's first rank.
    # Only entities with an over-limit bucket are ranked; buckets are matched as columns (a join on the entity
    # alone, filtering buckets after, paired every bucket of a busy entity such as a shared JA4 with all its requests).
    hits = {(r["endpoint"], r["key"], r["window_s"]): r for r in dicts(con, """
        WITH over AS (
            SELECT k.endpoint, k.key, l.window_s, k.entity, floor(epoch(k.ts) / l.window_s) AS bucket
            FROM rl_keyed k JOIN rl_limits l USING (endpoint, key) GROUP BY ALL HAVING count(*) > any_value(l.lim)),
        ranked_entity AS (
            SELECT endpoint, key, entity, ts, legit, row_number() OVER (PARTITION BY endpoint, key, entity ORDER BY ts, req_key) AS rk
            FROM rl_keyed SEMI JOIN (SELECT DISTINCT endpoint, key, entity FROM over) USING (endpoint, key, entity)),
        in_over AS MATERIALIZED (
            SELECT * FROM (SELECT r.endpoint, r.key, l.window_s, l.lim, r.entity, floor(epoch(r.ts) / l.window_s) AS bucket,
                                  r.legit, r.rk
                           FROM ranked_entity r JOIN rl_limits l USING (endpoint, key))
            SEMI JOIN over USING (endpoint, key, window_s, entity, bucket)),
        ranked AS (
            SELECT i.endpoint, i.key, i.window_s, i.entity, i.legit, i.lim, i.rk - f.first_rk + 1 AS nth
            FROM in_over i JOIN (SELECT endpoint, key, window_s, entity, bucket, min(rk) AS first_rk FROM in_over GROUP BY ALL) f
                 USING (endpoint, key, window_s, entity, bucket))
        SELECT endpoint, key, window_s,
               count(DISTINCT entity) FILTER (WHERE legit) AS legit_entities, count(*) FILTER (WHERE legit) AS legit_requests,
               count(DISTINCT entity) FILTER (WHERE NOT legit) AS other_entities, count(*) FILTER (WHERE NOT legit) AS other_requests
        FROM ranked WHERE nth > lim GROUP BY ALL""")}
    for s in limits:
        hit = hits.get((s["endpoint"], s["key"], s["window_s"]), {})
        total = totals.get((s["endpoint"], s["key"]), {})
        s["backtest"] = {
            "limit": s["limit"],
            "legit_requests": total.get("legit", 0), "legit_entities_throttled": hit.get("legit_entities", 0),
            "legit_requests_throttled": hit.get("legit_requests", 0),
            "legit_throttled_share": round(hit.get("legit_requests", 0) / max(total.get("legit", 0), 1), 6),
            "other_requests": total.get("other", 0), "other_entities_throttled": hit.get("other_entities", 0),
            "other_requests_throttled": hit.get("other_requests", 0),
            "other_throttled_share": round(hit.get("other_requests", 0) / max(total.get("other", 0), 1), 6),
        }


def per_minute_by_scope(limits: list[dict]) -> dict[str, int]:
    """All-endpoint per-minute limits keyed by decision scope, for throttle decisions."""
    by_key = {r["key"]: r["limit"] for r in limits if r["endpoint"] == "*" and r["window_s"] == 60}
    out = dict(by_key)
    if "ip" in by_key:
        out["cidr"] = by_key["ip"]
    return out
