"""Rate-limit recommendations from the traffic of legitimate entities (those without any finding).

For every endpoint template (and `*`, all endpoints together) x key (token, ip, fingerprint = ja4)
x window (1 min, 10 min, 1 h, 1 day), each legitimate entity's *peak* is its largest request
count in any window-long bucket of the day (tumbling buckets aligned on the UTC clock: a sliding
window's peak is at most twice that, which the headroom covers). Across entities we take p50,
p90 and p99 of the peaks, in the spirit of Cloudflare's volumetric abuse detection, and
recommend `ceil(p99 x headroom)`: p99 keeps the legitimate heavy tail inside the limit, the
headroom (default 2) absorbs the bucket alignment and tomorrow's growth. A backtest counts the
legitimate entities and requests the limit would have throttled that day. Confidence follows
the number of entities behind the statistic.

`recommend` is tonight's raw recommendation; smoothing across nights belongs to the caller.
"""

from __future__ import annotations

import math

import duckdb

from gatewarden.db import dicts
from gatewarden.detectors.base import Window
from gatewarden.replay import window_source

KEYS = {"token": "token", "ip": "client_ip", "fingerprint": "ja4"}  # key -> canonical field
WINDOWS_S = (60, 600, 3600, 86400)


def confidence(entities: int) -> str:
    return "high" if entities >= 200 else "medium" if entities >= 30 else "low"


def recommend(con: duckdb.DuckDBPyConnection, window: Window, flagged: str, headroom: float = 2.0,
              min_entities: int = 5) -> list[dict]:
    """Tonight's raw recommendations. `flagged` is a table of req_key for requests matched by any finding."""
    union = " UNION ALL ".join(
        f"SELECT endpoint, '{key}' AS key, CAST({field} AS VARCHAR) AS entity, ts, req_key FROM win_rl WHERE {field} IS NOT NULL"
        for key, field in KEYS.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE win_rl AS SELECT req_key, ts, coalesce(endpoint, '/') AS endpoint, "
                f"token, client_ip, ja4 FROM ({window_source(window.start, window.end)})")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE rl_buckets AS
        WITH keyed AS ({union}),
        dirty AS (SELECT DISTINCT k.key, k.entity FROM keyed k JOIN {flagged} f USING (req_key)),
        legit AS (SELECT k.* FROM keyed k ANTI JOIN dirty d ON k.key = d.key AND k.entity = d.entity),
        both_scopes AS (SELECT endpoint, key, entity, ts FROM legit UNION ALL SELECT '*', key, entity, ts FROM legit)
        SELECT endpoint, key, w.window_s, entity, floor(epoch(ts) / w.window_s) AS bucket, count(*) AS n
        FROM both_scopes CROSS JOIN (SELECT unnest([{', '.join(map(str, WINDOWS_S))}]) AS window_s) w
        GROUP BY ALL""")
    stats = dicts(con, f"""
        WITH peaks AS (SELECT endpoint, key, window_s, entity, max(n) AS peak FROM rl_buckets GROUP BY ALL)
        SELECT endpoint, key, window_s, count(*) AS entities,
               quantile_cont(peak, 0.5) AS p50, quantile_cont(peak, 0.9) AS p90, quantile_cont(peak, 0.99) AS p99,
               max(peak) AS max_peak
        FROM peaks GROUP BY endpoint, key, window_s HAVING count(*) >= {int(min_entities)}
        ORDER BY endpoint <> '*', endpoint, key, window_s""")
    for s in stats:
        s["limit"] = max(1, math.ceil(s["p99"] * headroom))
    _backtest(con, stats)
    return [{
        "endpoint": s["endpoint"], "key": s["key"], "field": KEYS[s["key"]], "window_s": s["window_s"], "limit": s["limit"],
        "statistic": "p99", "headroom": headroom,
        "p50": round(s["p50"], 3), "p90": round(s["p90"], 3), "p99": round(s["p99"], 3), "max": s["max_peak"],
        "entities": s["entities"], "confidence": confidence(s["entities"]),
        "backtest": {"entities_throttled": s["bt_entities"], "requests_throttled": s["bt_requests"]},
    } for s in stats]


def _backtest(con: duckdb.DuckDBPyConnection, stats: list[dict]) -> None:
    if not stats:
        return
    con.execute("CREATE OR REPLACE TEMP TABLE rl_limits (endpoint VARCHAR, key VARCHAR, window_s INTEGER, lim BIGINT)")
    con.executemany("INSERT INTO rl_limits VALUES (?, ?, ?, ?)", [[s["endpoint"], s["key"], s["window_s"], s["limit"]] for s in stats])
    hits = {(r["endpoint"], r["key"], r["window_s"]): r for r in dicts(con, """
        SELECT b.endpoint, b.key, b.window_s, count(DISTINCT b.entity) AS entities, sum(b.n - l.lim) AS requests
        FROM rl_buckets b JOIN rl_limits l USING (endpoint, key, window_s)
        WHERE b.n > l.lim GROUP BY ALL""")}
    for s in stats:
        hit = hits.get((s["endpoint"], s["key"], s["window_s"]))
        s["bt_entities"], s["bt_requests"] = (hit["entities"], int(hit["requests"])) if hit else (0, 0)


def per_minute_by_scope(limits: list[dict]) -> dict[str, int]:
    """All-endpoint per-minute limits keyed by decision scope, for throttle decisions."""
    by_key = {r["key"]: r["limit"] for r in limits if r["endpoint"] == "*" and r["window_s"] == 60}
    out = dict(by_key)
    if "ip" in by_key:
        out["cidr"] = by_key["ip"]
    return out
