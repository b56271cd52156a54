"""schema detector: probing by known attack paths (CrowdSec lists), rare mostly-4xx endpoints, and calls outside an
OpenAPI spec, through the real CLI."""

from __future__ import annotations

import json
import random

import duckdb
import pytest

from gatewarden.detectors.attack_patterns import categories, category_sql

T0 = 1795132800  # 2026-11-20 00:00 UTC
SPEC = """
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /v1/models:
    get: {responses: {"200": {description: ok}}}
  /v1/chat/completions:
    post:
      parameters: [{name: stream, in: query, schema: {type: boolean}}]
      responses: {"200": {description: ok}}
  /v1/files/{file_id}:
    get: {responses: {"200": {description: ok}}}
"""
SCANNER_PATHS = ["/.env", "/wp-admin/setup-config.php", "/phpmyadmin/index.php", "/.git/config", "/backup.sql",
                 "/cgi-bin/nas_sharing.cgi", "/index.php?page=../../../../etc/passwd", "/shell.php", "/admin/login"]


@pytest.mark.parametrize("path, category", [
    ("/.env", "sensitive_file"), ("/wp-login.php", "admin_interface"), ("/a?x=..%2f..%2fetc", None),
    ("/q?id=1%20union%20select%20", "sqli_probe"), ("/v1/chat/completions", None), ("/x/c99.php", "backdoor"),
    ("/search?q=%3Cscript%3Ealert", "xss_probe"), ("/v1/files/abc", None)])
def test_attack_categories_match_like_crowdsec(path, category):
    assert all(c.literals for c in categories())
    con = duckdb.connect()
    assert con.execute(f"SELECT {category_sql('p')} FROM (SELECT ? AS p)", [path]).fetchall() == [(category,)]


def traffic(seed: int) -> list[dict]:
    rng = random.Random(seed)
    recs: list[dict] = []

    def add(t, ip, method, path, status, **kw):
        recs.append({"ts": T0 + t, "client_ip": ip, "method": method, "path": path, "status": status,
                     "request_id": f"s{len(recs)}", "user_agent": kw.pop("ua", "sdk/1.2"), **kw})

    for i in range(4000):
        u = rng.randrange(150)
        ep = rng.choice(["GET /v1/models", "POST /v1/chat/completions", "POST /v1/chat/completions?stream=true",
                         f"GET /v1/files/file_{rng.randrange(10 ** 9):09d}"])
        method, path = ep.split(" ")
        add(i * 20, f"100.70.{u // 100}.{u % 100 + 1}", method, path, 200 if rng.random() > 0.02 else 404, token=f"key_u{u:03d}")
    for j, p in enumerate(SCANNER_PATHS + [f"/{w}.php" for w in ("old", "test", "info2", "db", "conf")]):
        add(50000 + j, "203.0.113.66", "GET", p, 404, ua="Mozilla/5.0 zgrab/0.x")
    for j in range(12):  # a crawler following dead links: unknown paths, but no attack paths
        add(60000 + j * 60, "66.249.66.1", "GET", f"/docs/guide-{j}", 404, ua="Googlebot/2.1")
    for j in range(40):  # a client of a stale API version: known paths, unknown parameters and methods
        add(70000 + j * 30, "100.99.0.5", "DELETE" if j % 2 else "POST",
            "/v1/models" if j % 2 else "/v1/chat/completions?legacy_mode=1&stream=true", 400, token="key_stale")
    return recs


def findings(db_path):
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return {(r[0], r[1], r[2]): r[3:] for r in con.execute(
            "SELECT scope, value, metric, severity, observed, details FROM findings WHERE detector = 'schema'").fetchall()}
    finally:
        con.close()


def ingest(tmp_path, db_path, cli, seed=5):
    log = tmp_path / "api.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in traffic(seed)) + "\n")
    assert cli("ingest", log, "--db", db_path).exit_code == 0


def test_scanner_found_high_crawler_never_high_without_spec(tmp_path, db_path, cli):
    ingest(tmp_path, db_path, cli)
    result = cli("analyze", "--db", db_path, "--detector", "schema")
    assert result.exit_code == 0, result.output
    got = findings(db_path)
    scan = got[("ip", "203.0.113.66", "probe_endpoints")]
    details = json.loads(scan[2])
    assert scan[0] == "high" and scan[1] >= 10 and details["attack_paths"] >= 8
    assert {"sensitive_file", "admin_interface", "path_traversal", "cve_probe"} <= set(details["attack_categories"])
    assert got.get(("ip", "66.249.66.1", "probe_endpoints"), ("low",))[0] != "high"
    assert not [k for k in got if k[1].startswith("100.70.") or k[1].startswith("key_u")]


def test_openapi_spec_unknown_paths_methods_and_params(tmp_path, db_path, cli):
    ingest(tmp_path, db_path, cli)
    spec = tmp_path / "openapi.yaml"
    spec.write_text(SPEC)
    result = cli("analyze", "--db", db_path, "--detector", "schema", "--openapi", spec)
    assert result.exit_code == 0, result.output
    got = findings(db_path)
    assert got[("ip", "203.0.113.66", "probe_endpoints")][0] == "high"
    stale = json.loads(got[("token", "key_stale", "spec_violations")][2])
    assert stale["unknown_method_requests"] == 20 and stale["unknown_params"] == ["legacy_mode"]
    assert not [k for k in got if k[1].startswith("100.70.") or k[1].startswith("key_u")]
    missing = cli("analyze", "--db", db_path, "--detector", "schema", "--openapi", tmp_path / "nope.yaml")
    assert missing.exit_code == 2 and "does not exist" in missing.output
