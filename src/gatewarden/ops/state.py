"""State across nights: daily per-entity aggregates, thresholds, smoothed rate limits, pruning.

Everything is keyed by day and replaced, never added to, so a late or repeated day is harmless.
The aggregates are what baselines read once raw requests have been pruned.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from gatewarden.config import Config
from gatewarden.db import rows, scalar
from gatewarden.detectors.base import Window
from gatewarden.features import build_window, has_window
from gatewarden.ops.config import OperationsConfig

# scope -> the `win` expression naming the entity; '*' is the whole day.
ENTITY_SCOPES = {
    "token": "token",
    "ip": "client_ip",
    "fingerprint": "fingerprint",
    "asn": "CAST(asn AS VARCHAR)",
    "*": "'*'",
}


def day_window(day: date) -> Window:
    start = datetime.combine(day, datetime.min.time())
    return Window(start, start + timedelta(days=1))


def record_day(con: duckdb.DuckDBPyConnection, cfg: Config, day: date, analysed: Window | None = None) -> int:
    """Replace `day`'s rows of entity_daily and threshold_daily. Reuses the temp table `win` when the
    analysis window `analysed` covers the whole day (the nightly case), else builds features for the day."""
    whole = day_window(day)
    if not (analysed and has_window(con) and analysed.start <= whole.start and analysed.end >= whole.end):
        build_window(con, whole, cfg)
    # cost is rounded far below what anyone reads: a parallel float sum's last bits vary between runs. `automated`
    # has three decimals, so its mean is taken over exact integers (a float mean could round either way at 4 places).
    params = {"day": day, "start": whole.start, "end": whole.end}
    con.begin()
    try:
        con.execute("DELETE FROM entity_daily WHERE day = ?", [day])
        con.execute("INSERT INTO entity_daily " + " UNION ALL ".join(_entity_select(scope, expr)
                                                                     for scope, expr in ENTITY_SCOPES.items()), params)
        con.execute("DELETE FROM threshold_daily WHERE day = ?", [day])
        con.execute("""
            INSERT INTO threshold_daily
            SELECT CAST(? AS DATE), detector, scope, metric, round(median(threshold), 6), count(*), max(observed)
            FROM findings WHERE window_end = ? GROUP BY detector, scope, metric""", [day, whole.end])
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return scalar(con, "SELECT count(*) FROM entity_daily WHERE day = ?", [day])


def _entity_select(scope: str, expr: str) -> str:
    """One scope's rows of entity_daily. Each distinct count comes from the entity's distinct (entity, value)
    pairs, joined to the plain aggregates: DISTINCT aggregates mixed with others in one GROUP BY took ten times
    as long (14 s of a 10M-request day)."""
    requests = f"(SELECT {expr} AS value, * FROM win WHERE ts >= $start AND ts < $end AND {expr} IS NOT NULL)"
    counts, joins = [], []
    for name, column in (("ips", "client_ip"), ("tokens", "token"), ("asns", "asn")):
        if expr in (column, f"CAST({column} AS VARCHAR)"):
            counts.append(f"1 AS distinct_{name}")  # an entity is one of itself
            continue
        counts.append(f"coalesce(d_{name}.n, 0) AS distinct_{name}")
        joins.append(f"LEFT JOIN (SELECT value, count(*) AS n FROM (SELECT DISTINCT value, {column} FROM {requests} "
                     f"WHERE {column} IS NOT NULL) GROUP BY value) d_{name} USING (value)")
    # The window is one UTC day, so its distinct hours are the set bits of a 24-bit mask.
    return f"""SELECT $day::DATE AS day, '{scope}' AS scope, a.value, a.requests, a.cost, a.errors, a.active_hours,
               {", ".join(counts)}, a.automated_share, a.first_seen, a.last_seen
        FROM (SELECT value, count(*) AS requests, round(sum(cost), 9) AS cost, count(*) FILTER (WHERE status >= 400) AS errors,
                     bit_count(bit_or(CAST(1 AS INTEGER) << hour(ts))) AS active_hours,
                     round(sum(CAST(round(automated * 1000) AS BIGINT)) / count(automated) / 1000, 4) AS automated_share,
                     min(ts) AS first_seen, max(ts) AS last_seen
              FROM {requests} GROUP BY value) a
        {" ".join(joins)}"""


def smooth_rate_limits(con: duckdb.DuckDBPyConnection, tonight: Iterable[Mapping[str, Any]], day: date,
                       ops: OperationsConfig | None = None, field: str = "per_minute", record: bool = True) -> list[dict[str, Any]]:
    """Tonight's recommended limits moved smoothly from the previous nights' published ones.

    Each item needs `scope`, `value` and `field` (the recommended limit). The published limit is an EWMA
    of tonight's recommendation and the latest earlier night's published limit, bounded to
    [previous x max_down, previous x max_up] so one odd night cannot swing the gate. A key seen for the
    first time gets its recommendation as is. Returns copies of the items with `field` smoothed (integers
    stay integers, rounded up) plus `recommended` and `previous`. With `record` the day's history is
    replaced at once (a re-run is idempotent); without, call `record_rate_limits` once the limits are
    really published, so a night whose output was held back is no one's "previous".
    """
    ops = ops or OperationsConfig()
    items = [dict(item) for item in tonight]
    con.execute("CREATE OR REPLACE TEMP TABLE gw_tonight (scope VARCHAR, value VARCHAR, recommended DOUBLE)")
    if items:
        con.executemany("INSERT INTO gw_tonight VALUES (?, ?, ?)", [[i["scope"], i["value"], float(i[field])] for i in items])
    smoothed = {
        (scope, value): (recommended, previous, published)
        for scope, value, recommended, previous, published in rows(con, """
            WITH prev AS (
                SELECT scope, value, arg_max(smoothed, day) AS previous
                FROM rate_limit_history WHERE day < ? GROUP BY scope, value
            )
            SELECT t.scope, t.value, t.recommended, p.previous,
                   CASE WHEN p.previous IS NULL THEN t.recommended
                        ELSE least(greatest(? * t.recommended + (1 - ?) * p.previous, p.previous * ?), p.previous * ?) END
            FROM gw_tonight t LEFT JOIN prev p USING (scope, value)""",
            [day, ops.rate_limit_alpha, ops.rate_limit_alpha, ops.rate_limit_max_down, ops.rate_limit_max_up])
    }
    con.execute("DROP TABLE gw_tonight")
    result = []
    for item in items:
        recommended, previous, published = smoothed[(item["scope"], item["value"])]
        as_int = isinstance(item[field], int)
        result.append({**item, field: math.ceil(published) if as_int else round(published, 6),
                       "recommended": item[field], "previous": previous, "smoothed": published})
    if record:
        record_rate_limits(con, day, result)
    return result


def record_rate_limits(con: duckdb.DuckDBPyConnection, day: date, smoothed: Iterable[Mapping[str, Any]]) -> None:
    """Replace `day`'s rate-limit history with the items `smooth_rate_limits` returned (and each one's
    `backtest`, when it has one, so the report shows it without replaying the day again)."""
    con.begin()
    try:
        con.execute("DELETE FROM rate_limit_history WHERE day = ?", [day])
        values = [[day, i["scope"], i["value"], float(i["recommended"]), i["previous"], i["smoothed"],
                   json.dumps(i["backtest"], sort_keys=True) if i.get("backtest") is not None else None] for i in smoothed]
        if values:
            con.executemany("""INSERT INTO rate_limit_history (day, scope, value, recommended, previous, smoothed, backtest)
                               VALUES (?, ?, ?, ?, ?, ?, ?)""", values)
        con.commit()
    except BaseException:
        con.rollback()
        raise


def limit_key(limit: Mapping[str, Any]) -> tuple[str, str]:
    """(scope, value) of a `ratelimits.recommend` entry in rate_limit_history: the key, and `<window>s <endpoint>`."""
    return limit["key"], f"{limit['window_s']}s {limit['endpoint']}"


def smooth_published_limits(con: duckdb.DuckDBPyConnection, limits: list[dict[str, Any]], day: date,
                            ops: OperationsConfig) -> list[dict[str, Any]]:
    """`ratelimits.recommend`'s limits with `limit` smoothed across nights; each keeps tonight's raw value as
    `recommended` and last night's published one as `previous` (null the first night). Records nothing:
    call `record_published_limits` once the files are written."""
    keyed = [{"scope": k[0], "value": k[1], "limit": lim["limit"]} for lim in limits for k in [limit_key(lim)]]
    smoothed = smooth_rate_limits(con, keyed, day, ops, field="limit", record=False)
    # History holds the published integers, so `previous` is exactly what gateways enforced last night.
    return [{**lim, "limit": s["limit"], "recommended": s["recommended"],
             "previous": round(s["previous"]) if s["previous"] is not None else None}
            for lim, s in zip(limits, smoothed, strict=True)]


def record_published_limits(con: duckdb.DuckDBPyConnection, limits: list[dict[str, Any]], day: date) -> None:
    record_rate_limits(con, day, [{"scope": k[0], "value": k[1], "recommended": lim["recommended"],
                                   "previous": lim["previous"], "smoothed": lim["limit"], "backtest": lim.get("backtest")}
                                  for lim in limits for k in [limit_key(lim)]])


@dataclass(frozen=True)
class PruneResult:
    cutoff: date | None
    requests_deleted: int
    days_summarised: list[date]


def prune(con: duckdb.DuckDBPyConnection, cfg: Config, keep_days: int, dry_run: bool = False) -> PruneResult:
    """Delete raw requests older than `keep_days` days before the newest day in the data (the data's clock,
    never the wall clock). Days about to go that have no daily aggregates yet are summarised first."""
    newest = scalar(con, "SELECT max(ts) FROM requests")
    if newest is None:
        return PruneResult(None, 0, [])
    cutoff = newest.date() - timedelta(days=keep_days - 1)
    doomed = scalar(con, "SELECT count(*) FROM requests WHERE ts < ?", [cutoff])
    missing = [r[0] for r in rows(con, """
        SELECT DISTINCT CAST(ts AS DATE) AS day FROM requests WHERE ts < ?
        EXCEPT SELECT day FROM entity_daily ORDER BY day""", [cutoff])]
    if dry_run:
        return PruneResult(cutoff, doomed, missing)
    for day in missing:
        record_day(con, cfg, day)
    con.execute("DELETE FROM requests WHERE ts < ?", [cutoff])
    con.execute("CHECKPOINT")
    return PruneResult(cutoff, doomed, missing)


def baseline(con: duckdb.DuckDBPyConnection, scope: str, day: date, days: int) -> dict[str, dict[str, float]]:
    """Per entity of `scope`: median requests, cost and automated share over the `days` days before `day`."""
    return {
        value: {"requests": req, "cost": cost, "automated_share": auto, "days": n}
        for value, req, cost, auto, n in rows(con, """
            SELECT value, median(requests), median(cost), median(automated_share), count(*)
            FROM entity_daily WHERE scope = ? AND day < ? AND day >= ? GROUP BY value""",
            [scope, day, day - timedelta(days=days)])
    }
