"""graphql: depth and alias bombs, oversized documents and introspection, with recommended limits.

Every DISTINCT document of the window is parsed once with graphql-core (graphql_metrics.py) and
stored in `graphql_docs`; requests join back to it in SQL. The window's request-weighted
distribution of depth, fields and aliases goes to `graphql_stats` with a recommended maximum:
the p99 of benign-looking documents times `headroom`. Benign-looking means parsed, no
introspection, and inside a Tukey far-out fence computed over documents weighted by how many
distinct callers sent them: an application's queries are shared by many users, a bomb is sent
by few, so a flood of attack documents cannot drag the fence up with it.
Entities (token, ip) sending documents over a recommended maximum are findings, as is introspection.
"""

from __future__ import annotations

import math
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
from pydantic import Field

from gatewarden.detectors.base import Detector, Window
from gatewarden.detectors.sqlparts import ENTITY_KEYS
from gatewarden.detectors.stats import sample_ids
from gatewarden.settings import DetectorSettings

SHAPE_METRICS = ("depth", "fields", "aliases")
SCOPES = ("token", "ip")


class Settings(DetectorSettings):
    headroom: float = Field(
        1.5, ge=1.0, description="Recommended max = p99 of benign-looking requests x headroom: legitimate clients grow "
        "their queries over time, and a limit at exactly today's p99 would reject 1 in 100 real requests.")
    min_headroom: int = Field(
        3, ge=1, description="The recommended max is at least p99 + this, so a metric whose p99 is 0 or 1 "
        "(aliases usually) does not turn the first legitimate alias into an outlier.")
    fence_iqr: float = Field(
        3.0, gt=0, description="Tukey far-out fence (Q3 + k*IQR over documents weighted by distinct callers) "
        "beyond which a document is not benign-looking when the limit is derived.")
    min_requests: int = Field(
        30, ge=1, description="Below this many parsed GraphQL requests in the window there is no distribution "
        "to derive limits from: only introspection is reported.")
    high_score: float = Field(
        2.0, gt=1, description="Over-limit findings are block-worthy (high) when the entity's worst document is at "
        "least this multiple of the recommended max...")
    high_min_requests: int = Field(
        3, ge=1, description="...and it sent at least this many over-limit requests (one odd query is a bug, "
        "a series is an attack).")


class GraphqlDetector(Detector):
    name = "graphql"
    summary = "GraphQL depth/alias bombs, oversized documents and introspection, with recommended limits"

    def findings_sql(self, con: duckdb.DuckDBPyConnection, window: Window) -> str | None:
        if not con.execute("SELECT 1 FROM win WHERE graphql_query IS NOT NULL LIMIT 1").fetchall():
            return None
        self._measure_new_documents(con, window.end)
        limits = self._store_stats(con, window)
        s = self.settings
        con.execute("""CREATE OR REPLACE TEMP TABLE gw_gql AS
            SELECT w.*, d.doc_hash, d.depth, d.fields, d.aliases, d.introspection
            FROM win w JOIN graphql_docs d ON md5(w.graphql_query) = d.doc_hash
            WHERE d.parse_error IS NULL""")
        parts = []
        for scope in SCOPES:
            col, match = ENTITY_KEYS[scope]
            src = f"(SELECT *, {col} AS value FROM gw_gql WHERE {col} IS NOT NULL)"
            for metric, limit in limits.items():
                over = f"{metric} > {limit}"
                score = f"max({metric}) / {float(limit)!r}"
                n_over = f"count(*) FILTER (WHERE {over})"
                parts.append(f"""
                SELECT 'graphql' AS detector, '{scope}' AS scope, value, 'graphql_max_{metric}' AS metric,
                    CAST(max({metric}) AS DOUBLE) AS observed, {float(limit)!r} AS threshold, {score} AS score,
                    CASE WHEN {score} >= {s.high_score} AND {n_over} >= {s.high_min_requests} THEN 'high'
                         WHEN {score} >= {s.high_score} OR {n_over} >= {s.high_min_requests} THEN 'medium'
                         ELSE 'low' END AS severity,
                    count(*) AS requests, sum(cost) AS cost, min(ts) AS first_seen, max(ts) AS last_seen,
                    {sample_ids(over)} AS sample_request_ids, {match} AS match,
                    json_object('over_limit_requests', {n_over}, 'graphql_requests', count(*),
                                'distinct_over_limit_documents', count(DISTINCT doc_hash) FILTER (WHERE {over}),
                                'recommended_max', {limit}, 'basis', 'recommended max from graphql_stats of this window',
                                'window_hours', {window.hours!r}) AS details
                FROM {src} GROUP BY value HAVING max({metric}) > {limit}""")
            parts.append(f"""
                SELECT 'graphql', '{scope}', value, 'graphql_introspection',
                    CAST(count(*) FILTER (WHERE introspection) AS DOUBLE), 1.0,
                    CAST(count(*) FILTER (WHERE introspection) AS DOUBLE),
                    CASE WHEN count(*) FILTER (WHERE introspection) >= 2 THEN 'medium' ELSE 'low' END,
                    count(*), sum(cost), min(ts), max(ts), {sample_ids('introspection')}, {match},
                    json_object('introspection_requests', count(*) FILTER (WHERE introspection),
                                'graphql_requests', count(*),
                                'why', 'introspection (__schema/__type) maps the whole API; production clients do not need it',
                                'window_hours', {window.hours!r})
                FROM {src} GROUP BY value HAVING bool_or(introspection)""")
        return " UNION ALL ".join(parts)

    def _measure_new_documents(self, con: duckdb.DuckDBPyConnection, seen: datetime) -> None:
        """Parse the window's documents not measured before (Python over DISTINCT documents only)."""
        new = con.execute("""SELECT md5(graphql_query) AS h, any_value(graphql_query)
            FROM win WHERE graphql_query IS NOT NULL GROUP BY h
            HAVING h NOT IN (SELECT doc_hash FROM graphql_docs)""").fetchall()
        if not new:
            return
        # graphql-core takes ~0.2 s to import: loaded only when a window brings documents to parse, not by every command.
        from gatewarden.detectors.graphql_metrics import document_metrics

        metrics = [document_metrics(text) for _, text in new]
        table = pa.table({
            "doc_hash": [h for h, _ in new],
            "depth": [m.depth for m in metrics],
            "fields": [m.fields for m in metrics],
            "aliases": [m.aliases for m in metrics],
            "fragments": [m.fragments for m in metrics],
            "spreads": [m.spreads for m in metrics],
            "introspection": [m.introspection for m in metrics],
            "parse_error": pa.array([m.parse_error for m in metrics], pa.string()),
            "bytes": [len(text.encode()) for _, text in new],
        })
        con.register("gw_new_docs", table)
        try:
            con.execute("INSERT INTO graphql_docs SELECT *, ? FROM gw_new_docs", [seen])
        finally:
            con.unregister("gw_new_docs")

    def _store_stats(self, con: duckdb.DuckDBPyConnection, window: Window) -> dict[str, int]:
        """Write graphql_stats for the window; return the recommended max per metric (empty when too few requests)."""
        from gatewarden.detectors.graphql_metrics import quantiles
        docs = con.execute("""SELECT d.depth, d.fields, d.aliases, d.introspection, d.parse_error IS NULL,
                count(*), count(DISTINCT coalesce(w.token, w.client_ip))
            FROM win w JOIN graphql_docs d ON md5(w.graphql_query) = d.doc_hash
            GROUP BY 1, 2, 3, 4, 5""").fetchall()
        arr = np.array([r[:3] for r in docs], dtype=float).reshape(-1, 3)
        introspection = np.array([r[3] for r in docs], dtype=bool)
        parsed = np.array([r[4] for r in docs], dtype=bool)
        requests = np.array([r[5] for r in docs], dtype=float)
        callers = np.array([r[6] for r in docs], dtype=float)
        n_parsed = int(requests[parsed].sum())
        unparseable = int(requests[~parsed].sum())
        con.execute("DELETE FROM graphql_stats WHERE window_start = ? AND window_end = ?", [window.start, window.end])
        limits: dict[str, int] = {}
        s = self.settings
        for i, metric in enumerate(SHAPE_METRICS):
            values = arr[parsed, i]
            p = quantiles(values, requests[parsed])
            recommended, basis = None, f"fewer than {s.min_requests} parsed GraphQL requests: no limit derived"
            candidates = parsed & ~introspection
            if n_parsed >= s.min_requests and candidates.any():
                q1, q3 = quantiles(arr[candidates, i], callers[candidates], (0.25, 0.75))
                fence = q3 + s.fence_iqr * (q3 - q1)
                benign = candidates & (arr[:, i] <= fence)
                (p99_benign,) = quantiles(arr[benign, i], requests[benign], (0.99,))
                recommended = max(math.ceil(p99_benign * s.headroom), int(p99_benign) + s.min_headroom)
                limits[metric] = recommended
                basis = (f"p99 {p99_benign:g} of benign-looking requests (parsed, no introspection, {metric} <= fence "
                         f"{fence:g} = Q3 + {s.fence_iqr:g} IQR over documents weighted by distinct callers) "
                         f"x headroom {s.headroom:g}, at least p99 + {s.min_headroom}")
            con.execute("INSERT INTO graphql_stats VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [window.start, window.end, metric, int(requests.sum()), len(docs), unparseable, *p, recommended, basis])
        return limits
