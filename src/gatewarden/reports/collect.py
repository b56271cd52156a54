"""Everything a report shows, read from the database into one plain dict (also summary.json).

Each section degrades on its own: a table that does not exist yet (no GraphQL traffic, no
sequence detector, no decisions) becomes `{"available": false, "note": ...}`, never an error.
Heavy work is SQL over `win`; Python only shapes the small results.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import duckdb

from gatewarden.config import Config
from gatewarden.db import dicts, rows, scalar, table_exists
from gatewarden.detectors.base import Window
from gatewarden.features import build_window, has_window
from gatewarden.replay import STOPPING, Matcher, Rule, window_source
from gatewarden.reports.config import ReportsConfig


def missing(note: str) -> dict[str, Any]:
    return {"available": False, "note": note}


def latest_decision_run(con: duckdb.DuckDBPyConnection, window: Window) -> str | None:
    if not table_exists(con, "decision_runs"):
        return None
    return scalar(con, """SELECT decision_run FROM decision_runs WHERE window_end = ? AND outcome = 'written'
                          ORDER BY finished_at DESC NULLS LAST, decision_run LIMIT 1""", [window.end])


def collect(con: duckdb.DuckDBPyConnection, cfg: Config, window: Window, reuse_win: bool = False,
            step: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """`step(section, how_many)` is called as each section starts (progress bars)."""
    if not reuse_win or not has_window(con):
        build_window(con, window, cfg)
    day = (window.end - timedelta(microseconds=1)).date()
    run = latest_decision_run(con, window)
    _verdicts(con, window, run)
    rc: ReportsConfig = cfg.reports
    sections: dict[str, Callable[[], Any]] = {
        "totals": lambda: {**totals(con, window, run), "safety_valve": valve_refusal(con, window)},
        "timeline": lambda: timeline(con),
        "offenders": lambda: offenders(con, window, run, rc.top_n),
        "asn_automation": lambda: asn_automation(con, day, cfg, rc.top_n),
        "distributions": lambda: distributions(con, window),
        "graphql": lambda: graphql(con, window),
        "sequences": lambda: sequences(con, window, rc.top_n),
        "rate_limits": lambda: rate_limits(con, cfg, day, rc.top_n),
        "changes": lambda: changes(con, window, day, run),
    }
    data: dict[str, Any] = {"day": day.isoformat(), "window": {"start": window.start.isoformat(), "end": window.end.isoformat()}}
    for name, section in sections.items():
        if step:
            step(name, len(sections))
        data[name] = section()
    con.execute("DROP TABLE rpt_verdict")
    return data


def totals(con: duckdb.DuckDBPyConnection, window: Window, run: str | None) -> dict[str, Any]:
    # One DISTINCT per scan: several in one aggregate, next to other aggregates, ran on one core.
    t = dicts(con, """SELECT count(*) AS requests, (SELECT count(DISTINCT token) FROM win) AS tokens,
                             (SELECT count(DISTINCT client_ip) FROM win) AS ips, (SELECT count(DISTINCT asn) FROM win) AS asns,
                             -- rounded twice: a parallel float sum's last bits vary, and must not flip the 4th decimal
                             round(round(coalesce(sum(cost), 0), 9), 4) AS cost FROM win""")[0]
    t["findings"] = scalar(con, "SELECT count(*) FROM findings WHERE window_end = ?", [window.end])
    t["decisions"] = dict(rows(con, """SELECT action, count(*) FROM decisions WHERE decision_run = ? AND status = 'active'
                                       GROUP BY action ORDER BY action""", [run])) if run else {}
    return t


def valve_refusal(con: duckdb.DuckDBPyConnection, window: Window) -> dict[str, Any] | None:
    """What the safety valve refused, when the newest decision run of this window tripped it: without this the report
    of such a night says "no decisions" and nobody reading it learns that detections were held back, or why."""
    if not table_exists(con, "decision_runs"):
        return None
    newest = dicts(con, """SELECT outcome, active AS decisions, blocks, challenges, throttles, clean_requests_hit, clean_share,
                                  clean_tokens_hit, clean_token_share, safety_limit AS "limit"
                           FROM decision_runs WHERE window_end = ? ORDER BY finished_at DESC NULLS LAST, decision_run LIMIT 1""",
                   [window.end])
    if not newest or newest[0].pop("outcome") != "safety_valve":
        return None
    return newest[0]


def _verdicts(con: duckdb.DuckDBPyConnection, window: Window, run: str | None) -> None:
    """Temp table rpt_verdict(ts, verdict): what a gateway applying tonight's decisions does with each request,
    through the same matcher as the replay. `flagged` means a medium or high finding selects the request but no
    decision acts on it; low findings are hints, not verdicts."""
    def hits(name: str, rules: list[Rule]) -> str:
        if not rules:
            return "SELECT NULL::BIGINT AS req_key WHERE false"
        return f"SELECT DISTINCT req_key FROM ({Matcher(con, rules, name=name).hits_sql(source)})"

    source = window_source(window.start, window.end)
    decided = dicts(con, "SELECT id, action, match FROM decisions WHERE decision_run = ? AND status = 'active'", [run]) if run else []
    found = dicts(con, "SELECT finding_id AS id, match FROM findings WHERE window_end = ? AND severity IN ('medium', 'high')",
                  [window.end])

    def rules(items: list[dict[str, Any]]) -> list[Rule]:
        return [Rule(i["id"], json.loads(i["match"]) if isinstance(i["match"], str) else i["match"]) for i in items]

    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE rpt_verdict AS
        WITH stopped AS ({hits("rpt_stop", rules([d for d in decided if d["action"] in STOPPING]))}),
             throttled AS ({hits("rpt_throttle", rules([d for d in decided if d["action"] == "throttle"]))}),
             flagged AS ({hits("rpt_flag", rules(found))})
        SELECT r.ts, CASE WHEN r.req_key IN (SELECT req_key FROM stopped) THEN 'stopped'
                          WHEN r.req_key IN (SELECT req_key FROM throttled) THEN 'throttled'
                          WHEN r.req_key IN (SELECT req_key FROM flagged) THEN 'flagged' ELSE 'clean' END AS verdict
        FROM ({source}) r""")


def timeline(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    hours = dicts(con, """
        SELECT strftime(hour, '%Y-%m-%d %H:00') AS hour, clean, flagged, throttled, stopped
        FROM (SELECT date_trunc('hour', ts) AS hour,  -- formatted per hour, not per request
                     count(*) FILTER (WHERE verdict = 'clean') AS clean,
                     count(*) FILTER (WHERE verdict = 'flagged') AS flagged,
                     count(*) FILTER (WHERE verdict = 'throttled') AS throttled,
                     count(*) FILTER (WHERE verdict = 'stopped') AS stopped
              FROM rpt_verdict GROUP BY ALL)
        ORDER BY hour""")
    return {"available": bool(hours), "hours": hours} if hours else missing("No requests in the window.")


def offenders(con: duckdb.DuckDBPyConnection, window: Window, run: str | None, top: int) -> dict[str, Any]:
    if run:
        # A stolen key or a scraping fingerprint is stopped per network (`value@network`, each with that network's
        # evidence); people want one row per offender.
        items = dicts(con, """
            WITH d AS (
                SELECT *, split_part(value, '@', 1) AS offender,
                       CASE action WHEN 'block' THEN 3 WHEN 'challenge' THEN 2 ELSE 1 END AS rank
                FROM decisions WHERE decision_run = ? AND status = 'active'
            )
            SELECT scope, offender AS value,
                   arg_max(action, rank) || CASE WHEN count(*) > 1 THEN ' on ' || count(*) || ' networks' ELSE '' END AS action,
                   list_sort(list_distinct(flatten(list(detectors)))) AS detectors, sum(requests) AS requests,
                   round(coalesce(sum(cost), 0), 4) AS cost, max(offence_count) AS offence_count,
                   CAST(max(expires_at) AS VARCHAR) AS expires_at, arg_max(reasons, rank) AS reasons
            FROM d GROUP BY scope, offender
            ORDER BY cost DESC NULLS LAST, requests DESC, scope, value LIMIT ?""", [run, top])
        for item in items:
            item["reasons"] = json.loads(item["reasons"]) if isinstance(item["reasons"], str) else item["reasons"]
        if items:
            return {"available": True, "source": "decisions", "items": items}
    items = dicts(con, """
        SELECT scope, value, NULL AS action, list(DISTINCT detector ORDER BY detector) AS detectors, max(requests) AS requests,
               round(coalesce(max(cost), 0), 4) AS cost, NULL AS offence_count, NULL AS expires_at,
               list({'detector': detector, 'metric': metric, 'value': observed, 'threshold': threshold}
                    ORDER BY detector, metric) AS reasons
        FROM findings WHERE window_end = ? GROUP BY scope, value
        ORDER BY cost DESC, requests DESC, scope, value LIMIT ?""", [window.end, top])
    if not items:
        return missing("No findings and no decisions for this window.")
    return {"available": True, "source": "findings", "items": items}


def asn_automation(con: duckdb.DuckDBPyConnection, day: date, cfg: Config, top: int) -> dict[str, Any]:
    items = dicts(con, """
        WITH today AS (
            SELECT asn, any_value(as_org) AS as_org, count(*) AS requests, round(avg(automated), 4) AS automated_share
            FROM win WHERE asn IS NOT NULL GROUP BY asn
        ), base AS (
            SELECT CAST(value AS INTEGER) AS asn, round(median(automated_share), 4) AS baseline_share, count(*) AS baseline_days
            FROM entity_daily WHERE scope = 'asn' AND day < ? AND day >= ? GROUP BY value
        )
        SELECT t.*, b.baseline_share, coalesce(b.baseline_days, 0) AS baseline_days
        FROM today t LEFT JOIN base b USING (asn) ORDER BY requests DESC, asn LIMIT ?""",
                  [day, day - timedelta(days=cfg.operations.baseline_days), top])
    return {"available": True, "items": items} if items else missing("No request carries an ASN (run `gatewarden asn import`).")


def _histogram(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    """Counts per power-of-two bucket of the values produced by `sql` (one column `v`, all >= 1)."""
    return dicts(con, f"""
        SELECT CAST(pow(2, floor(log2(v))) AS BIGINT) AS lo, CAST(pow(2, floor(log2(v)) + 1) - 1 AS BIGINT) AS hi, count(*) AS n
        FROM ({sql}) WHERE v >= 1 GROUP BY ALL ORDER BY lo""")


def _thresholds(con: duckdb.DuckDBPyConnection, window: Window, scope: str, metric_like: str) -> list[dict[str, Any]]:
    return dicts(con, """SELECT detector, metric, round(median(threshold), 4) AS threshold FROM findings
                         WHERE window_end = ? AND scope = ? AND metric ILIKE ? AND threshold IS NOT NULL
                         GROUP BY detector, metric ORDER BY detector, metric""", [window.end, scope, metric_like])


def distributions(con: duckdb.DuckDBPyConnection, window: Window) -> dict[str, Any]:
    result = {}
    for name, entity, counted, scope, like in (("ips_per_token", "token", "client_ip", "token", "%ip%"),
                                               ("tokens_per_ip", "client_ip", "token", "ip", "%token%")):
        per = f"SELECT count(DISTINCT {counted}) AS v FROM win WHERE {entity} IS NOT NULL AND {counted} IS NOT NULL GROUP BY {entity}"
        buckets = _histogram(con, per)
        if not buckets:
            result[name] = missing(f"No requests carry both a {entity} and a {counted}.")
            continue
        q = dicts(con, f"SELECT quantile_disc(v, 0.5) AS p50, quantile_disc(v, 0.99) AS p99, max(v) AS max FROM ({per})")[0]
        result[name] = {"available": True, "buckets": buckets, "quantiles": q,
                        "thresholds": _thresholds(con, window, scope, like)}
    return result


def graphql(con: duckdb.DuckDBPyConnection, window: Window) -> dict[str, Any]:
    if not table_exists(con, "graphql_docs") or not scalar(con, "SELECT count(*) FROM win WHERE graphql_query IS NOT NULL"):
        return missing("No GraphQL requests in this window.")
    per = """SELECT d.depth, d.bytes FROM win w JOIN graphql_docs d ON d.doc_hash = md5(w.graphql_query)
             WHERE w.graphql_query IS NOT NULL AND d.parse_error IS NULL"""
    out: dict[str, Any] = {"available": True}
    for metric, col in (("depth", "depth"), ("size", "bytes")):
        out[metric] = {
            "buckets": dicts(con, f"SELECT {col} AS lo, {col} AS hi, count(*) AS n FROM ({per}) GROUP BY ALL ORDER BY lo")
            if metric == "depth" else _histogram(con, f"SELECT {col} AS v FROM ({per})"),
            "quantiles": dicts(con, f"""SELECT quantile_disc({col}, 0.5) AS p50, quantile_disc({col}, 0.75) AS p75,
                                               quantile_disc({col}, 0.95) AS p95, quantile_disc({col}, 0.99) AS p99
                                        FROM ({per})""")[0],
        }
    if table_exists(con, "graphql_stats"):
        out["recommended"] = dicts(con, """SELECT metric, recommended_max, basis FROM graphql_stats WHERE window_end = ?
                                           ORDER BY metric""", [window.end])
    return out


def sequences(con: duckdb.DuckDBPyConnection, window: Window, top: int) -> dict[str, Any]:
    if not table_exists(con, "sequence_ngrams"):
        return missing("The session-sequence detector has not stored n-grams for this database.")
    cols = {r[0] for r in rows(con, "SELECT column_name FROM duckdb_columns() WHERE table_name = 'sequence_ngrams'")}
    where = "WHERE window_end = ?" if "window_end" in cols else ""
    params = [window.end] if where else []
    count_col = next((c for c in ("sessions", "count", "requests", "n") if c in cols), None)
    surprise_col = next((c for c in ("surprise", "surprisal", "score", "neg_log_prob") if c in cols), None)
    shown = [c for c in ("ngram", "sequence", "gram", count_col, surprise_col) if c and c in cols]
    if not shown or not count_col:
        return missing("sequence_ngrams has no columns this report understands.")
    order = ", ".join(shown)  # ties broken on every shown column, so a re-run lists them in the same order
    select = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" if c in ("ngram", "sequence", "gram") else c for c in shown)
    common = dicts(con, f"SELECT {select} FROM sequence_ngrams {where} ORDER BY {count_col} DESC, {order} LIMIT ?",
                  [*params, top])
    rare = dicts(con, f"SELECT {select} FROM sequence_ngrams {where} ORDER BY {surprise_col} DESC, {order} LIMIT ?",
                 [*params, top]) if surprise_col else []
    return {"available": bool(common), "columns": shown, "top": common, "surprising": rare} if common else \
        missing("No session sequences stored for this window.")


def rate_limits(con: duckdb.DuckDBPyConnection, cfg: Config, day: date, top: int) -> dict[str, Any]:
    # The backtest is decide's (ratelimits.backtest): tonight's traffic replayed against each published limit, stored
    # with it in rate_limit_history (values are `<window>s <endpoint>`, ops.state.limit_key).
    published = dicts(con, """SELECT scope, CAST(split_part(value, 's ', 1) AS BIGINT) AS window_s,
                                     substr(value, strpos(value, ' ') + 1) AS endpoint, recommended, previous, smoothed,
                                     CAST(backtest AS VARCHAR) AS backtest
                              FROM rate_limit_history WHERE day = ?""", [day])
    if not published:
        return missing("No rate limits were published for this day.")
    if any(r["backtest"] is None for r in published):
        return missing("This day's rate limits were published without a backtest (by an older gatewarden); "
                       "run `gatewarden decide` again for the day to store one.")
    items = [{**{k: r[k] for k in ("scope", "endpoint", "window_s", "recommended", "previous", "smoothed")}, **json.loads(r["backtest"])}
             for r in published]
    items.sort(key=lambda r: (-r["legit_requests_throttled"], -r["other_requests_throttled"], r["scope"], r["window_s"], r["endpoint"]))
    ops = cfg.operations
    return {"available": True, "items": items[:top], "bounds": {"up": ops.rate_limit_max_up, "down": ops.rate_limit_max_down}}


def changes(con: duckdb.DuckDBPyConnection, window: Window, day: date, run: str | None) -> dict[str, Any]:
    yesterday = day - timedelta(days=1)
    both = dicts(con, """SELECT day, requests, distinct_ips, distinct_tokens, cost FROM entity_daily
                         WHERE scope = '*' AND day IN (?, ?) ORDER BY day""", [yesterday, day])
    if len(both) < 2 or both[0]["day"] != yesterday:
        return missing(f"No aggregates for {yesterday}: the first night, or history was reset.")
    before, now = both
    traffic = {k: {"yesterday": before[k], "today": now[k]} for k in ("requests", "distinct_ips", "distinct_tokens", "cost")}
    thresholds = dicts(con, """
        SELECT t.detector, t.scope, t.metric, y.threshold AS yesterday, t.threshold AS today
        FROM threshold_daily t JOIN threshold_daily y USING (detector, scope, metric)
        WHERE t.day = ? AND y.day = ? AND t.threshold IS DISTINCT FROM y.threshold ORDER BY ALL""", [day, yesterday])
    out: dict[str, Any] = {"available": True, "traffic": traffic, "thresholds": thresholds}
    prev = scalar(con, """SELECT decision_run FROM decision_runs WHERE window_end = ? AND outcome = 'written'
                          ORDER BY finished_at DESC NULLS LAST LIMIT 1""", [window.end - timedelta(days=1)]) \
        if table_exists(con, "decision_runs") else None
    if run and prev:
        out["decisions"] = dict(rows(con, """
            WITH t AS (SELECT scope, value, action FROM decisions WHERE decision_run = ? AND status = 'active'),
                 y AS (SELECT scope, value, action FROM decisions WHERE decision_run = ? AND status = 'active')
            SELECT 'new', count(*) FROM t ANTI JOIN y USING (scope, value)
            UNION ALL SELECT 'repeated', count(*) FROM t SEMI JOIN y USING (scope, value)
            UNION ALL SELECT 'lifted', count(*) FROM y ANTI JOIN t USING (scope, value)""", [run, prev]))
    return out
