"""schema: endpoint probing, known attack paths, and calls outside the API's OpenAPI spec.

A probe is a request to a known attack path (CrowdSec's MIT dictionaries, attack_patterns.py) or,
with an OpenAPI 3 spec, to a path the spec does not have; without a spec, to an endpoint that is
rare in the window and mostly answered 4xx (scanners walk wordlists of paths nobody else uses and
that do not exist). All matching runs over DISTINCT endpoints/paths, then joins back to requests.
Per entity (ip, token, fingerprint) the number of distinct probed endpoints is compared with the
population of entities that probed at all. With a spec, known paths called with a method or query
parameter the spec does not list are counted too (`spec_violations`): clients built from the spec
never send them; fuzzers and clients of a stale API version do.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import duckdb
import pyarrow as pa
from pydantic import Field

from gatewarden.detectors.attack_patterns import category_sql
from gatewarden.detectors.base import Detector, Window
from gatewarden.detectors.sqlparts import outlier_findings
from gatewarden.enrich.openapi import load_openapi
from gatewarden.settings import DetectorSettings

SCOPES = ("ip", "token", "fingerprint")

# `[detectors.schema]` is this detector's config table; pydantic warns that the field shadows the
# deprecated BaseModel.schema() classmethod, which gatewarden never calls (instances read the field).
warnings.filterwarnings("ignore", message='Field name "schema" in "DetectorsConfig" shadows', category=UserWarning)


class Settings(DetectorSettings):
    openapi: Path | None = Field(
        None, description="OpenAPI 3 spec to check requests against [default: endpoints.openapi, or `analyze --openapi`].")
    rare_share: float = Field(
        0.001, gt=0, lt=1, description="Without a spec, an endpoint is rare when it carries less than this share of the "
        "window's requests (scale-free: the same on a quiet and a busy day)...")
    error_share: float = Field(
        0.8, gt=0, le=1, description="...and a probe when at least this share of its requests got a 4xx.")
    k_mad: float = Field(
        6.0, gt=0, description="An entity is over when its distinct probed endpoints exceed median + k x 1.4826 x MAD "
        "of the entities that probed at all.")
    min_probe_endpoints: float = Field(
        5.0, ge=1, description="Distinct probed endpoints below which nothing is reported: a browser following a few dead "
        "links, or a client hitting a removed route, stays under it.")
    min_spec_violations: float = Field(
        20.0, ge=1, description="Requests outside the spec (unknown method or query parameter) below which nothing "
        "is reported.")
    min_attack_paths: int = Field(
        3, ge=1, description="Distinct known attack paths (CrowdSec lists) an entity must hit for a high finding: "
        "crawlers and confused clients hit unknown paths, but not .env, wp-admin and traversal payloads.")
    high_score: float = Field(2.0, gt=1, description="Observed / threshold from which corroborated probing is high.")


class SchemaDetector(Detector):
    name = "schema"
    summary = "Endpoint probing, known attack paths (CrowdSec lists), calls outside the OpenAPI spec"

    def findings_sql(self, con: duckdb.DuckDBPyConnection, window: Window) -> str | None:
        s = self.settings
        has_spec = s.openapi is not None
        if has_spec:
            self._register_spec(con, s.openapi)
        # Only the attack paths are kept: every request is joined against this table, and most paths are not.
        # MATERIALIZED: pushed into the projection, the filter would run the category regexes a second time.
        con.execute(f"""CREATE OR REPLACE TEMP TABLE gw_schema_paths AS
            WITH c AS MATERIALIZED (SELECT path, {category_sql('path')} AS attack_category
                                    FROM (SELECT DISTINCT path FROM win WHERE path IS NOT NULL))
            SELECT * FROM c WHERE attack_category IS NOT NULL""")
        if has_spec:
            endpoint_probe = "sp.template IS NULL"
            con.execute("""CREATE OR REPLACE TEMP TABLE gw_schema_calls AS
                WITH d AS (SELECT DISTINCT endpoint, method, query_keys FROM win WHERE endpoint IS NOT NULL),
                m AS (SELECT d.*, p.template,
                             row_number() OVER (PARTITION BY d.endpoint, d.method, d.query_keys ORDER BY p.rank) AS pick
                      FROM d LEFT JOIN gw_spec_paths p ON regexp_full_match(d.endpoint, p.regex))
                SELECT m.endpoint, m.method, m.query_keys, m.template, o.method IS NOT NULL AS method_known,
                       CASE WHEN o.method IS NOT NULL THEN
                            list_filter(coalesce(m.query_keys, []), lambda k: NOT list_contains(o.params, k)) END AS unknown_params
                FROM m LEFT JOIN gw_spec_ops o ON o.template = m.template AND o.method = m.method
                WHERE m.pick = 1""")
            spec_join = """LEFT JOIN gw_schema_calls sp ON sp.endpoint = w.endpoint AND sp.method IS NOT DISTINCT FROM w.method
                              AND sp.query_keys IS NOT DISTINCT FROM w.query_keys"""
            spec_cols = """, sp.template, sp.template IS NOT NULL AND (NOT sp.method_known OR len(sp.unknown_params) > 0)
                              AS spec_violation, sp.method_known, sp.unknown_params"""
        else:
            endpoint_probe = "rare.endpoint IS NOT NULL"
            con.execute(f"""CREATE OR REPLACE TEMP TABLE gw_schema_rare AS
                SELECT endpoint FROM win WHERE endpoint IS NOT NULL GROUP BY endpoint
                HAVING count(*) < {s.rare_share} * (SELECT count(*) FROM win)
                   AND count(*) FILTER (WHERE status BETWEEN 400 AND 499) >= {s.error_share} * count(*)""")
            spec_join = "LEFT JOIN gw_schema_rare rare ON rare.endpoint = w.endpoint"
            spec_cols = ""
        rows_sql = f"""SELECT w.*, pa.attack_category,
                   pa.attack_category IS NOT NULL OR {endpoint_probe} AS probe{spec_cols}
            FROM win w LEFT JOIN gw_schema_paths pa ON pa.path = w.path {spec_join}"""
        probe_extra = {
            "probe_requests": "count(*) FILTER (WHERE probe)",
            "attack_paths": "count(DISTINCT path) FILTER (WHERE attack_category IS NOT NULL)",
            "attack_categories": "list(DISTINCT attack_category ORDER BY attack_category) FILTER (WHERE attack_category IS NOT NULL)",
            "example_paths": "(list(DISTINCT path ORDER BY path) FILTER (WHERE probe))[1:8]",
            "probe_4xx_share": "round(count(*) FILTER (WHERE probe AND status BETWEEN 400 AND 499) "
                               "/ greatest(count(*) FILTER (WHERE probe), 1), 3)",
            "probe_rule": f"'{'path not in the OpenAPI spec' if has_spec else 'endpoint rare and mostly 4xx'} or known attack path'",
        }
        parts = []
        for scope in SCOPES:
            parts.append(outlier_findings(
                detector=self.name, scope=scope, metric="probe_endpoints", rows_sql=rows_sql, counted="probe",
                observed="count(DISTINCT coalesce(endpoint, path))",
                k=s.k_mad, floor=s.min_probe_endpoints, window_hours=window.hours, extra=probe_extra,
                severity=f"CASE WHEN score >= {s.high_score} AND attack_paths >= {s.min_attack_paths} THEN 'high' "
                         f"WHEN score >= {s.high_score} OR attack_paths >= {s.min_attack_paths} THEN 'medium' ELSE 'low' END"))
            if has_spec:
                parts.append(outlier_findings(
                    detector=self.name, scope=scope, metric="spec_violations", rows_sql=rows_sql, counted="spec_violation",
                    k=s.k_mad, floor=s.min_spec_violations, window_hours=window.hours,
                    extra={"unknown_method_requests": "count(*) FILTER (WHERE spec_violation AND NOT method_known)",
                           "unknown_params": "(list_sort(list_distinct(flatten(list(unknown_params) "
                                             "FILTER (WHERE spec_violation AND unknown_params IS NOT NULL)))))[1:10]",
                           "templates": "(list(DISTINCT template ORDER BY template) FILTER (WHERE spec_violation))[1:5]"},
                    severity=f"CASE WHEN score >= {s.high_score} THEN 'medium' ELSE 'low' END"))
        return " UNION ALL ".join(parts)

    def _register_spec(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        specs = load_openapi(path)
        con.register("gw_spec_paths_arrow", pa.table({
            "template": [sp.template for sp in specs], "regex": [sp.regex for sp in specs],
            "rank": list(range(len(specs)))}))
        ops = [(sp.template, op.method, sorted(op.query_params)) for sp in specs for op in sp.operations.values()]
        con.register("gw_spec_ops_arrow", pa.table({
            "template": [o[0] for o in ops], "method": [o[1] for o in ops],
            "params": pa.array([o[2] for o in ops], pa.list_(pa.string()))}))
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE gw_spec_paths AS SELECT * FROM gw_spec_paths_arrow")
            con.execute("CREATE OR REPLACE TEMP TABLE gw_spec_ops AS SELECT * FROM gw_spec_ops_arrow")
        finally:
            con.unregister("gw_spec_paths_arrow")
            con.unregister("gw_spec_ops_arrow")
