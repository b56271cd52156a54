"""User-agent classes, verified crawlers and hosting flags over real DuckDB tables and the bundled lists."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import duckdb
import pytest

from conftest import SHARED
from gatewarden.config import DatabaseConfig, EnrichConfig
from gatewarden.db import connect, rows, scalar
from gatewarden.enrich.asn_import import import_asn_files
from gatewarden.enrich.crawlers import verified_crawlers
from gatewarden.enrich.hosting import create_asn_flags
from gatewarden.enrich.ip import ip_to_num
from gatewarden.enrich.user_agents import classify_user_agents

UAS = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36":
        ("browser", "Chrome", 124, None),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51":
        ("browser", "Edge", 124, None),
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:62.0) Gecko/20100101 Firefox/62.0": ("browser", "Firefox", 62, None),
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1":
        ("browser", "Safari", 17, None),
    "curl/8.5.0": ("http_library", "curl", 8, None),
    "python-requests/2.31.0": ("http_library", "python-requests", 2, None),
    "okhttp/4.12.0": ("http_library", "okhttp", 4, None),
    "Go-http-client/1.1": ("http_library", "Go-http-client", 1, None),
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)": ("http_library", "node-fetch", 1, None),
    "OpenAI/Python 1.30.1": ("sdk", "openai-python", 1, None),
    "OpenAI/JS 4.47.1": ("sdk", "openai-node", 4, None),
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": ("crawler", "Googlebot", None, "Googlebot"),
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)":
        ("ai_crawler", "GPTBot", None, "GPTBot"),
    "CCBot/2.0 (https://commoncrawl.org/faq/)": ("ai_crawler", "CCBot", None, "CCBot"),
    "sqlmap/1.7.2#stable (https://sqlmap.org)": ("bad_bot", "Sqlmap", None, "Sqlmap"),
    "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)": ("bad_bot", "MJ12bot", None, "MJ12bot"),
    "": ("unknown", "empty", None, None),
    "-": ("unknown", "empty", None, None),
    "my-internal-tool": ("unknown", None, None, None),
}


@pytest.fixture
def con():
    c = duckdb.connect()
    yield c
    c.close()


def test_user_agent_classes(con) -> None:
    con.execute("CREATE TABLE reqs (user_agent VARCHAR)")
    con.executemany("INSERT INTO reqs VALUES (?)", [[ua] for ua in UAS] * 3 + [[None]])
    assert classify_user_agents(con, "reqs") == len(UAS) + 1  # distinct UAs, NULL included once
    got = {r[0]: tuple(r[1:]) for r in rows(con, "SELECT user_agent, ua_class, ua_family, ua_major, bot_name FROM ua_info")}
    for ua, expected in UAS.items():
        assert got[ua] == expected, ua
    assert got[None][:2] == ("unknown", "empty")


def test_monperrus_instances_are_bots_and_browsers_are_not(con) -> None:
    """Every listed crawler's own example UAs come out as some bot class (not browser/unknown)."""
    data = json.loads((resources.files("gatewarden") / "data" / "user_agents" / "monperrus-crawler-user-agents.json").read_text())
    instances = [i for e in data for i in e.get("instances", [])[:1]]
    con.execute("CREATE TABLE reqs AS SELECT unnest(?) AS user_agent", [instances])
    classify_user_agents(con, "reqs")
    classes = dict(rows(con, "SELECT ua_class, count(*) FROM ua_info GROUP BY 1"))
    bots = sum(classes.get(c, 0) for c in ("crawler", "ai_crawler", "bad_bot", "http_library", "sdk"))
    assert bots / sum(classes.values()) > 0.97, classes


def test_verified_and_spoofed_crawlers(db_path: Path) -> None:
    con = connect(DatabaseConfig(path=db_path))
    con.execute("CREATE TEMP TABLE reqs (client_ip VARCHAR, ip_num UHUGEINT, asn INTEGER, user_agent VARCHAR)")
    gpt = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"
    google = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    cases = [("20.171.206.5", None, gpt), ("45.9.1.1", 16276, gpt), ("66.249.66.1", 15169, google),
             ("178.32.46.62", 16276, google), ("66.249.66.2", None, google), ("1.2.3.4", 3320, "Mozilla/5.0 Firefox/120.0")]
    for ip, asn, ua in cases:
        con.execute("INSERT INTO reqs VALUES (?, CAST(? AS UHUGEINT), ?, ?)", [ip, str(ip_to_num(ip)), asn, ua])
    assert verified_crawlers(con, "reqs") == 5
    got = {r[0]: r[1:] for r in rows(con, "SELECT client_ip, bot_name, status, method FROM crawler_check")}
    assert got["20.171.206.5"] == ("gptbot", "verified", "published_ranges")
    assert got["45.9.1.1"] == ("gptbot", "spoofed", "published_ranges")
    assert got["66.249.66.1"] == ("googlebot", "verified", "operator_asn")
    assert got["178.32.46.62"] == ("googlebot", "spoofed", "operator_asn")
    assert got["66.249.66.2"] == ("googlebot", "unverified", "none")
    reason = scalar(con, "SELECT reason FROM crawler_check WHERE client_ip = '178.32.46.62'")
    assert "AS16276" in reason and "googlebot" in reason
    con.close()


def test_asn_info_loaded_once_and_config_applies(db_path: Path) -> None:
    con = connect(DatabaseConfig(path=db_path))
    assert scalar(con, "SELECT count(*) FROM asn_info WHERE asn = 16276 AND is_hosting") == 1
    assert scalar(con, "SELECT count(*) FROM asn_info WHERE asn = 9009 AND is_vpn") == 1
    loaded_at = scalar(con, "SELECT loaded_at FROM bundled_data WHERE name = 'asn_info'")
    con.close()
    con = connect(DatabaseConfig(path=db_path))
    assert scalar(con, "SELECT loaded_at FROM bundled_data WHERE name = 'asn_info'") == loaded_at  # not reloaded
    create_asn_flags(con, EnrichConfig(hosting_asns_extra=[64500], hosting_asns_exclude=[16276]))
    flags = dict(rows(con, "SELECT asn, is_hosting FROM asn_flags WHERE asn IN (16276, 64500, 14061)"))
    assert flags == {64500: True, 14061: True}
    con.close()


@pytest.mark.skipif(not (SHARED / "access-logs" / "elastic-apache_logs.log.gz").exists(), reason="needs /work/shared")
def test_real_log_user_agents_and_googlebot(db_path: Path) -> None:
    """The elastic apache log's top IP is a real Googlebot; its UAs are mostly browsers."""
    con = connect(DatabaseConfig(path=db_path))
    log = SHARED / "access-logs" / "elastic-apache_logs.log.gz"
    con.execute(f"""CREATE TEMP TABLE reqs AS
        SELECT split_part(line, ' ', 1) AS client_ip, gw_ipv4_num(split_part(line, ' ', 1)) AS ip_num,
               regexp_extract_all(line, '"([^"]*)"', 1)[3] AS user_agent
        FROM read_csv('{log}', columns={{'line': 'VARCHAR'}}, delim=chr(1), quote='', header=false, auto_detect=false)""")
    classify_user_agents(con, "reqs")
    classes = dict(rows(con, "SELECT ua_class, count(*) FROM ua_info GROUP BY 1"))
    assert classes["browser"] > classes.get("unknown", 0)
    folder = SHARED / "asn" / "ip-location-db-asn"
    import_asn_files(con, [folder / "asn-ipv4.csv.gz"])
    con.execute("""CREATE TEMP TABLE reqs2 AS SELECT r.*, a.asn FROM reqs r
                   ASOF LEFT JOIN asn_ranges a ON r.ip_num >= a.range_start""")
    verified_crawlers(con, "reqs2")
    assert rows(con, "SELECT status FROM crawler_check WHERE client_ip = '66.249.73.135' GROUP BY 1") == [("verified",)]
    con.close()
