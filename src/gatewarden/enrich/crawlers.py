"""Verified crawlers: a UA that claims a known good bot is believed only from that bot's published origin.

Definitions are CrowdSec's legit-bots list (data/crawlers, MIT): a UA regex plus either published IP
ranges or rDNS patterns. rDNS cannot be checked offline, so those bots fall back to their operator's ASN
(OPERATOR_ASNS) and say so in `method`; bots with neither stay `unverified` rather than guessed.
A claim from anywhere else is `spoofed`: a scraper wearing Googlebot's UA.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import duckdb
import pyarrow as pa

from gatewarden.enrich import sql_str
from gatewarden.enrich.cidr import cidr_range

# Operators' own ASNs for bots that publish only rDNS names (ASNs from the operators' docs / RIR records).
OPERATOR_ASNS: dict[str, tuple[int, ...]] = {
    "googlebot": (15169,),
    "bingbot": (8075,),
    "applebot": (714, 6185),
    "amazonbot": (16509, 14618),
    "meta": (32934,),
    "yandex": (13238, 208722),
    "baidu": (55967, 38365),
    "yahoo": (10310, 26101, 36647, 36646),
}


@lru_cache(maxsize=1)
def crawler_definitions() -> tuple[dict, ...]:
    """Each bundled definition: name, user_agent (regex), ranges [(start, end)], rdns [regex], asns."""
    folder = resources.files("gatewarden") / "data" / "crawlers"
    out = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".json"):
            continue
        for line in entry.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("{"):
                spec = json.loads(line)
                ranges = [r for r in (cidr_range(c) for c in spec.get("ranges", [])) if r is not None]
                out.append({"name": spec["name"], "user_agent": spec["user_agent"], "ranges": ranges,
                            "rdns": spec.get("rdns", []), "asns": OPERATOR_ASNS.get(spec["name"], ())})
    return tuple(out)


def _register(con: duckdb.DuckDBPyConnection) -> None:
    defs = crawler_definitions()
    ranges = [(d["name"], s, e) for d in defs for s, e in d["ranges"]]
    asns = [(d["name"], a) for d in defs for a in d["asns"]]
    con.register("gw_crawler_ranges_in", pa.table({
        "name": pa.array([r[0] for r in ranges], pa.string()),
        "hi_s": pa.array([r[1] >> 64 for r in ranges], pa.uint64()),
        "lo_s": pa.array([r[1] & 0xFFFF_FFFF_FFFF_FFFF for r in ranges], pa.uint64()),
        "hi_e": pa.array([r[2] >> 64 for r in ranges], pa.uint64()),
        "lo_e": pa.array([r[2] & 0xFFFF_FFFF_FFFF_FFFF for r in ranges], pa.uint64()),
    }))
    con.register("gw_crawler_asns", pa.table({"name": pa.array([a[0] for a in asns], pa.string()),
                                              "asn": pa.array([a[1] for a in asns], pa.int32())}))
    con.execute("""CREATE OR REPLACE TEMP TABLE gw_crawler_ranges AS
        SELECT name, CAST(hi_s AS UHUGEINT) * CAST(18446744073709551616 AS UHUGEINT) + lo_s AS range_start,
               CAST(hi_e AS UHUGEINT) * CAST(18446744073709551616 AS UHUGEINT) + lo_e AS range_end
        FROM gw_crawler_ranges_in""")
    con.unregister("gw_crawler_ranges_in")


def verified_crawlers(con: duckdb.DuckDBPyConnection, source_table: str, into: str = "crawler_check") -> int:
    """Temp table `into`(client_ip, ip_num, asn, user_agent, bot_name, status, method, reason): one row per
    distinct (address, UA) of `source_table` whose UA claims a known good bot. status is `verified`,
    `spoofed` or `unverified` (no offline check possible). Returns the number of rows."""
    defs = crawler_definitions()
    _register(con)
    name_case = "CASE " + " ".join(
        f"WHEN regexp_matches(user_agent, {sql_str('(?i)' + d['user_agent'])}) THEN {sql_str(d['name'])}" for d in defs) + " END"
    with_ranges = [d["name"] for d in defs if d["ranges"]]
    with_asns = [d["name"] for d in defs if not d["ranges"] and d["asns"]]
    in_list = lambda names: "[" + ", ".join(sql_str(n) for n in names) + "]::VARCHAR[]"  # noqa: E731
    try:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {into} AS
            WITH bots AS MATERIALIZED (  -- the regexes run once per distinct User-Agent, not per (address, User-Agent)
                SELECT user_agent, {name_case} AS bot_name
                FROM (SELECT DISTINCT user_agent FROM {source_table} WHERE user_agent IS NOT NULL)),
            claims AS (
                SELECT DISTINCT s.client_ip, s.ip_num, s.asn, s.user_agent, b.bot_name
                FROM {source_table} s JOIN bots b ON b.user_agent = s.user_agent
                WHERE b.bot_name IS NOT NULL AND s.ip_num IS NOT NULL),
            checked AS (
                SELECT c.*,
                       EXISTS (SELECT 1 FROM gw_crawler_ranges r WHERE r.name = c.bot_name
                               AND c.ip_num BETWEEN r.range_start AND r.range_end) AS in_ranges,
                       EXISTS (SELECT 1 FROM gw_crawler_asns a WHERE a.name = c.bot_name AND a.asn = c.asn) AS in_asn
                FROM claims c)
            SELECT client_ip, ip_num, asn, user_agent, bot_name,
                   CASE WHEN list_contains({in_list(with_ranges)}, bot_name) THEN
                            CASE WHEN in_ranges THEN 'verified' ELSE 'spoofed' END
                        WHEN list_contains({in_list(with_asns)}, bot_name) AND asn IS NOT NULL THEN
                            CASE WHEN in_asn THEN 'verified' ELSE 'spoofed' END
                        ELSE 'unverified' END AS status,
                   CASE WHEN list_contains({in_list(with_ranges)}, bot_name) THEN 'published_ranges'
                        WHEN list_contains({in_list(with_asns)}, bot_name) AND asn IS NOT NULL THEN 'operator_asn'
                        ELSE 'none' END AS method,
                   CASE WHEN list_contains({in_list(with_ranges)}, bot_name) THEN
                            CASE WHEN in_ranges THEN 'address inside ' || bot_name || '''s published ranges'
                                 ELSE 'UA claims ' || bot_name || ' but the address is outside its published ranges' END
                        WHEN list_contains({in_list(with_asns)}, bot_name) AND asn IS NOT NULL THEN
                            CASE WHEN in_asn THEN 'AS' || asn || ' is ' || bot_name || '''s operator network (rDNS not checkable offline)'
                                 ELSE 'UA claims ' || bot_name || ' but AS' || asn || ' is not its operator''s network' END
                        WHEN list_contains({in_list(with_asns)}, bot_name) THEN
                            bot_name || ' is verified by its operator''s ASN; import an ASN table (gatewarden asn import)'
                        ELSE bot_name || ' publishes only rDNS names, which cannot be checked offline' END AS reason
            FROM checked""")
    finally:
        con.unregister("gw_crawler_asns")
        con.execute("DROP TABLE IF EXISTS gw_crawler_ranges")
    return con.execute(f"SELECT count(*) FROM {into}").fetchall()[0][0]
