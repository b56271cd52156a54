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
from typing import TYPE_CHECKING

import duckdb

from gatewarden.db import dicts, drop_from_scratch, store_in_scratch
from gatewarden.detectors.base import Window
from gatewarden.replay import window_source

if TYPE_CHECKING:
    from gatewarden.config import DatabaseConfig

KEYS = {"token": "token", "ip": "client_ip", "fingerprint": "ja4"}  # key -> canonical field
WINDOWS_S = (60, 600, 3600, 86400)  # each a multiple of the one before: the backtest sums buckets into the next window's
STATISTIC = "p99"
MINUTE = "CAST(floor(epoch(ts) / 60) AS BIGINT)"  # the backtest's smallest bucket: every window is a sum of these


def confidence(entities: int) -> str:
    return "high" if entities >= 200 else "medium" if entities >= 30 else "low"


def recommend(con: duckdb.DuckDBPyConnection, db: DatabaseConfig, window: Window, legit: str, headroom: float = 2.0,
              min_entities: int = 5) -> list[dict]:
    """Tonight's raw recommendations. `legit` is a table of req_key of legitimate-looking requests (decisions/legit.py)."""
    _keyed(con, db, window, legit)
    # One aggregate per key and endpoint grouping, as in the backtest's counts (one over the whole view can exhaust memory).
    con.execute("""CREATE OR REPLACE TEMP TABLE rl_buckets
                   (endpoint VARCHAR, key VARCHAR, window_s INTEGER, entity UBIGINT, bucket DOUBLE, n BIGINT)""")
    for key in KEYS:
        for grouping in ("endpoint", "'*'"):
            con.execute(f"""INSERT INTO rl_buckets
                SELECT endpoint, key, w.window_s, entity, floor(epoch(ts) / w.window_s) AS bucket, count(*) AS n
                FROM ({_keyed_select(key, grouping)}) CROSS JOIN (SELECT unnest([{', '.join(map(str, WINDOWS_S))}]) AS window_s) w
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


def _keyed(con: duckdb.DuckDBPyConnection, db: DatabaseConfig, window: Window, legit: str) -> None:
    """rl_win: the window's requests with their keys and whether they look legitimate (in the scratch database: a
    temp table of it spilled at 10M requests); the view rl_keyed over it."""
    store_in_scratch(con, db, "rl_win", f"""
        SELECT r.req_key, r.ts, coalesce(r.endpoint, '/') AS endpoint, r.token, r.client_ip, r.ja4, l.req_key IS NOT NULL AS legit
        FROM ({window_source(window.start, window.end)}) r LEFT JOIN (SELECT DISTINCT req_key FROM {legit}) l USING (req_key)""")
    keyed_view(con)


def keyed_view(con: duckdb.DuckDBPyConnection) -> None:
    """rl_keyed(endpoint, key, entity, ts, req_key, legit) over rl_win: every request once per key it carries, per endpoint
    and for `*`. A view: its readers filter it (legitimate-looking requests, a few entities) and scan the narrow rl_win
    instead of a stored copy of the day x keys x 2; the backtest's full count goes to rl_win branch by branch."""
    con.execute("CREATE OR REPLACE TEMP VIEW rl_keyed AS " + " UNION ALL ".join(
        _keyed_select(key, grouping) for grouping in ("endpoint", "'*'") for key in KEYS))


def _keyed_select(key: str, grouping: str) -> str:
    # An entity is the 64-bit hash of its value: only counted, never shown, and grouping and joining the day's
    # keys as strings cost a third of the backtest at 10M requests (two values would have to collide to merge).
    return (f"SELECT {grouping} AS endpoint, '{key}' AS key, hash({KEYS[key]}) AS entity, ts, req_key, legit "
            f"FROM rl_win WHERE {KEYS[key]} IS NOT NULL")


def _count_minutes(con: duckdb.DuckDBPyConnection, number: dict[tuple[str, str], int]) -> None:
    """rl_minutes(g, entity, bucket, n, n_legit): requests per entity and UTC minute for each limited (endpoint, key),
    numbered g in `number` (rl_groups), one aggregate per key and endpoint grouping straight from rl_win. (One aggregate
    over the whole rl_keyed view, 6 x the day, ran out of memory at 10M requests under the 1GB limit instead of spilling.)"""
    con.execute("CREATE OR REPLACE TEMP TABLE rl_minutes (g INTEGER, entity UBIGINT, bucket BIGINT, n BIGINT, n_legit BIGINT)")
    counted = f"entity, {MINUTE}, count(*), count(*) FILTER (WHERE legit)"
    for key in KEYS:
        if ("*", key) in number:
            everywhere = _keyed_select(key, "'*'")
            con.execute(f"INSERT INTO rl_minutes SELECT {number['*', key]}, {counted} FROM ({everywhere}) GROUP BY ALL")
        if any(k == key and e != "*" for e, k in number):
            con.execute(f"""INSERT INTO rl_minutes SELECT g, {counted}
                FROM ({_keyed_select(key, 'endpoint')}) JOIN rl_groups USING (endpoint, key) GROUP BY ALL""")


def backtest(con: duckdb.DuckDBPyConnection, limits: list[dict]) -> None:
    """Adds `backtest` to each limit: the window's requests (rl_win and rl_keyed, from `recommend`) a fixed-window limiter at the
    limit's `limit` would reject, with the entities that hit it, for legitimate-looking requests and for the rest apart."""
    # Each limited (endpoint, key) is a number g from here on: grouping and joining millions of counts by the two
    # strings took a third of the time (names are looked up again for the results).
    groups = sorted({(s["endpoint"], s["key"]) for s in limits})
    number = {group: g for g, group in enumerate(groups)}
    con.execute("CREATE OR REPLACE TEMP TABLE rl_groups (g INTEGER, endpoint VARCHAR, key VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE rl_limits (g INTEGER, window_s INTEGER, lim BIGINT)")
    if limits:
        con.executemany("INSERT INTO rl_groups VALUES (?, ?, ?)", [[g, *group] for group, g in number.items()])
        con.executemany("INSERT INTO rl_limits VALUES (?, ?, ?)",
                        [[number[(s["endpoint"], s["key"])], s["window_s"], s["limit"]] for s in limits])
    # Requests per entity and bucket, legitimate-looking ones apart, from the UTC minute up: each window is a whole
    # multiple of the one before and aligned on the epoch, so its buckets are sums of the smaller window's
    # (floor(floor(t / a) / k) = floor(t / (a k))).
    _count_minutes(con, number)
    totals = {groups[r["g"]]: r for r in dicts(
        con, "SELECT g, sum(n_legit) AS legit, sum(n - n_legit) AS other FROM rl_minutes GROUP BY g")}
    # A fixed-window limiter rejects the requests of a bucket beyond its first `lim`, in arrival order (time, then
    # requests rowid). Only buckets over their limit reject anything. In one holding a single kind of request (all
    # legitimate-looking or none) the order does not matter: n - lim of that kind. In a mixed one, minutes before the
    # lim-th request are all accepted and minutes after it all rejected, so only the minute holding the cut is ranked
    # request by request: a busy entity such as a shared JA4 is never sorted as a whole.
    over, rollups, counts, counts_window = [], [], "rl_minutes", 60
    for window_s in WINDOWS_S:
        if window_s != counts_window:
            con.execute(f"""CREATE OR REPLACE TEMP TABLE rl_counts_{window_s} AS
                SELECT g, entity, bucket // {window_s // counts_window} AS bucket, sum(n) AS n, sum(n_legit) AS n_legit
                FROM {counts} GROUP BY ALL""")
            counts, counts_window = f"rl_counts_{window_s}", window_s
            rollups.append(counts)
        over.append(f"""SELECT c.g, {window_s} AS window_s, l.lim, c.entity, c.bucket, c.n, c.n_legit
                        FROM {counts} c JOIN rl_limits l ON l.g = c.g AND l.window_s = {window_s}
                        WHERE c.n > l.lim""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE rl_over AS {' UNION ALL '.join(over)}")
    for table in rollups:
        con.execute(f"DROP TABLE {table}")
    hits = {(*groups[r["g"]], r["window_s"]): r for r in dicts(con, f"""
        WITH mixed AS (SELECT g, window_s, lim, entity, bucket FROM rl_over WHERE n_legit > 0 AND n_legit < n),
        minutes AS (
            SELECT g, window_s, lim, entity, bucket, minute, n, n_legit,
                   sum(n) OVER (PARTITION BY g, window_s, entity, bucket ORDER BY minute) - n AS before
            FROM (SELECT m.* EXCLUDE (bucket), m.bucket AS minute, w.window_s, m.bucket // (w.window_s // 60) AS bucket
                  FROM (FROM rl_minutes SEMI JOIN (SELECT DISTINCT g, entity FROM mixed) USING (g, entity)) m
                       JOIN (SELECT DISTINCT g, window_s FROM mixed) w USING (g))
            JOIN mixed USING (g, window_s, entity, bucket)),
        rejecting AS MATERIALIZED (SELECT *, lim - before AS quota FROM minutes WHERE before + n > lim),
        cut AS (SELECT g, window_s, entity, minute, n, quota FROM rejecting
                WHERE before < lim AND n_legit > 0 AND n_legit < n),
        ranked_legit AS (  -- a cut minute's place in arrival order does not depend on the window: ranked once
            SELECT g, entity, minute, nth FROM (
                SELECT g, entity, minute, legit,
                       row_number() OVER (PARTITION BY g, entity, minute ORDER BY ts, req_key) AS nth
                FROM (SELECT g, entity, {MINUTE} AS minute, ts, req_key, legit FROM rl_keyed JOIN rl_groups USING (endpoint, key))
                     SEMI JOIN (SELECT DISTINCT g, entity, minute FROM cut) USING (g, entity, minute))
            WHERE legit),
        rejected AS (  -- a cut minute rejects its requests after the quota-th: the legitimate-looking ones ranked, the rest by difference
            SELECT c.g, c.window_s, c.entity, count(r.nth) AS legit, c.n - c.quota - count(r.nth) AS other
            FROM cut c LEFT JOIN ranked_legit r
                 ON r.g = c.g AND r.entity = c.entity AND r.minute = c.minute AND r.nth > c.quota
            GROUP BY c.g, c.window_s, c.entity, c.minute, c.n, c.quota
            UNION ALL  -- whole minutes after the cut, and a cut minute of one kind
            SELECT g, window_s, entity,
                   CASE WHEN before >= lim THEN n_legit WHEN n_legit = n THEN n - quota ELSE 0 END,
                   CASE WHEN before >= lim THEN n - n_legit WHEN n_legit = 0 THEN n - quota ELSE 0 END
            FROM rejecting WHERE before >= lim OR n_legit = 0 OR n_legit = n
            UNION ALL  -- buckets of one kind
            SELECT g, window_s, entity,
                   CASE WHEN n_legit = n THEN n - lim ELSE 0 END, CASE WHEN n_legit = 0 THEN n - lim ELSE 0 END
            FROM rl_over WHERE n_legit = 0 OR n_legit = n),
        per_entity AS (SELECT g, window_s, entity, sum(legit) AS legit, sum(other) AS other FROM rejected GROUP BY ALL)
        SELECT g, window_s,
               count(*) FILTER (WHERE legit > 0) AS legit_entities, sum(legit) AS legit_requests,
               count(*) FILTER (WHERE other > 0) AS other_entities, sum(other) AS other_requests
        FROM per_entity GROUP BY ALL""")}
    con.execute("DROP TABLE rl_minutes; DROP TABLE rl_over; DROP TABLE rl_groups")
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


def release(con: duckdb.DuckDBPyConnection) -> None:
    """Drop what `recommend` and `backtest` built: the rest of the run (state, report) gets the memory back."""
    con.execute("DROP VIEW IF EXISTS rl_keyed")
    con.execute("DROP TABLE IF EXISTS rl_buckets")
    drop_from_scratch(con, "rl_win")


def per_minute_by_scope(limits: list[dict]) -> dict[str, int]:
    """All-endpoint per-minute limits keyed by decision scope, for throttle decisions."""
    by_key = {r["key"]: r["limit"] for r in limits if r["endpoint"] == "*" and r["window_s"] == 60}
    out = dict(by_key)
    if "ip" in by_key:
        out["cidr"] = by_key["ip"]
    return out
