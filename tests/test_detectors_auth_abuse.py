"""auth_abuse detector: brute force, stuffing, refresh hammering and expired tokens through the real CLI;
the real WordPress/Joomla brute force logs when /work/shared is present; a CrowdSec hub fixture (MIT)."""

from __future__ import annotations

import base64
import json
import random
import shutil
from pathlib import Path

import duckdb
import pytest

DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

T0 = 1795132800  # 2026-11-20 00:00 UTC


def jwt(sub: str, exp: int) -> str:
    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{b64({'alg': 'HS256'})}.{b64({'sub': sub, 'exp': exp})}.c2lnbmF0dXJl"


def traffic(seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    recs: list[dict] = []

    def add(t, ip, method, path, status, **kw):
        recs.append({"ts": T0 + t, "client_ip": ip, "method": method, "path": path, "status": status,
                     "request_id": f"q{len(recs)}", **kw})

    for u in range(120):  # ordinary users: log in once or twice (sometimes a typo), then use the API
        ip, ua = f"100.64.{u // 10}.{u % 10 + 1}", f"Mozilla/5.0 Firefox/{100 + u % 20}"
        t = rng.randrange(80000)
        if rng.random() < 0.2:
            add(t, ip, "POST", "/api/auth/login", 401, user_agent=ua)
        add(t + 5, ip, "POST", "/api/auth/login", 200, user_agent=ua)
        tok = jwt(f"user{u}", T0 + t + 3600)
        for k in range(rng.randrange(5, 30)):
            add(t + 10 + k * 60, ip, "POST", "/v1/chat/completions", 200, user_agent=ua, token=tok)
        add(t + 900, ip, "POST", "/api/auth/refresh", 200, user_agent=ua, token=tok)
    for k in range(60):  # one brute forcer
        add(30000 + k * 3, "203.0.113.50", "POST", "/api/auth/login", 401, user_agent="python-requests/2.31")
    for k in range(90):  # credential stuffing: 30 addresses of one /24, 3 tries each, one client build
        add(40000 + k * 7, f"198.51.100.{k % 30 + 1}", "POST", "/api/auth/login", 401,
            user_agent="Mozilla/5.0 Chrome/120.0", ja4="t13d1516h2_8daaf6152771_b0da82dd1658")
    stolen = jwt("victim", T0 + 1000)
    for k in range(80):  # replay of a stolen, long-expired token
        add(50000 + k * 30, "192.0.2.77", "GET", "/v1/models", 401, user_agent="curl/8.4", token=stolen)
    hammer = jwt("hammer", T0 + 86000)
    for k in range(400):  # refresh hammering
        add(20000 + k * 10, "192.0.2.88", "POST", "/api/auth/refresh", 200, user_agent="okhttp/4.12", token=hammer)
    return recs


def findings(db_path):
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return {(r[0], r[1], r[2]): r[3:] for r in con.execute(
            "SELECT scope, value, metric, severity, observed, threshold, match, details FROM findings "
            "WHERE detector = 'auth_abuse'").fetchall()}
    finally:
        con.close()


def test_brute_force_stuffing_refresh_and_expired_tokens(tmp_path, db_path, cli):
    log = tmp_path / "auth.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in traffic()) + "\n")
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    result = cli("analyze", "--db", db_path, "--detector", "auth_abuse")
    assert result.exit_code == 0, result.output
    got = findings(db_path)
    brute = got[("ip", "203.0.113.50", "login_attempts")]
    assert brute[0] == "high" and json.loads(brute[3]) == {"client_ip": "203.0.113.50"}
    assert json.loads(brute[4])["refused_share"] == 1.0
    assert got[("cidr", "198.51.100.0/24", "login_attempts")][0] == "high"
    fp = [k for k in got if k[0] == "fingerprint" and k[2] == "login_attempts"]
    assert len(fp) == 1 and json.loads(got[fp[0]][3])["ja4"] == "t13d1516h2_8daaf6152771_b0da82dd1658"
    assert got[("token", "jwt:victim", "expired_token_requests")][0] == "high"
    assert got[("ip", "192.0.2.77", "expired_token_requests")][1] == 80
    assert got[("token", "jwt:hammer", "refresh_requests")][0] == "high"
    # Ordinary users, their occasional typo and their one refresh are never reported.
    assert not [k for k in got if k[1].startswith("100.64.") or k[1].startswith("jwt:user")]


def shared_logs_present(*names: str) -> bool:
    return all((SHARED / "access-logs" / n).exists() for n in names)


@pytest.mark.skipif(not shared_logs_present("rubik-ai-nginx", "almhuette-raith-short.log.gz"),
                    reason="real access logs in /work/shared/data are not available")
def test_real_wordpress_and_joomla_brute_force(tmp_path, db_path, cli):
    logs = SHARED / "access-logs"
    assert cli("ingest", logs / "rubik-ai-nginx", logs / "almhuette-raith-short.log.gz", "--db", db_path,
               "--format", "auto").exit_code == 0
    found = {}
    for day in ("2019-06-21", "2019-06-25", "2019-10-19"):
        assert cli("analyze", "--db", db_path, "--day", day, "--detector", "auth_abuse").exit_code == 0
        found[day] = findings(db_path)
    # WordPress answers a wrong password with 200: found by attempts, not by status.
    assert ("ip", "178.32.46.62", "login_attempts") in found["2019-06-25"]
    assert ("ip", "178.32.46.62", "login_attempts") in found["2019-06-21"]
    wordpress = {k[1] for k in found["2019-06-21"] if k[0] == "ip"}
    assert len(wordpress) >= 10
    joomla = found["2019-10-19"][("ip", "193.106.31.130", "login_attempts")]
    assert joomla[0] == "high" and "/administrator/index.php" in json.loads(joomla[4])["endpoints"]


def test_crowdsec_wordpress_bf_fixture(tmp_path, db_path, cli):
    fixture = DATA / "crowdsec-hub" / "http-bf-wordpress-bf.log"
    log = tmp_path / fixture.name
    shutil.copy(fixture, log)
    assert cli("ingest", log, "--db", db_path, "--max-reject-ratio", "0.5").exit_code == 0
    assert cli("analyze", "--db", db_path, "--detector", "auth_abuse").exit_code == 0
    got = findings(db_path)
    assert ("ip", "81.150.104.130", "login_attempts_per_minute") in got


def test_no_login_traffic_no_findings(tmp_path, db_path, cli):
    log = tmp_path / "plain.jsonl"
    log.write_text("\n".join(json.dumps({"ts": T0 + i, "client_ip": "10.0.0.1", "path": "/v1/models", "status": 200})
                             for i in range(50)) + "\n")
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    assert cli("analyze", "--db", db_path, "--detector", "auth_abuse").exit_code == 0
    assert findings(db_path) == {}

