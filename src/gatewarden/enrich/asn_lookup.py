"""ASN lookup on the ip_num axis: an ASOF join against the disjoint ranges of `asn_ranges`."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from gatewarden.enrich.ip import ip_to_num, uhugeint_sql


def attach_asn(con: duckdb.DuckDBPyConnection, ip_map: str = "gw_ip_map") -> None:
    """Add asn, as_org, country to `ip_map` from the imported `asn_ranges` (NULL where unknown)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {ip_map} AS
        SELECT m.*, r.asn, r.as_org, r.country
        FROM {ip_map} m
        LEFT JOIN (
            SELECT m2.raw_ip, a.asn, a.as_org, a.country
            FROM {ip_map} m2 ASOF JOIN asn_ranges a ON m2.ip_num >= a.range_start
            WHERE m2.ip_num <= a.range_end
        ) r USING (raw_ip)"""
    )


def lookup_ips(con: duckdb.DuckDBPyConnection, ips: list[str]) -> list[dict]:
    """asn, as_org, country for each address text (unparsable ones come back with `valid` False)."""
    nums = [ip_to_num(ip.strip()) for ip in ips]
    table = pa.table({
        "pos": pa.array(range(len(ips)), pa.int64()),
        "ip": pa.array(ips, pa.string()),
        "hi": pa.array([n >> 64 if n is not None else None for n in nums], pa.uint64()),
        "lo": pa.array([n & 0xFFFF_FFFF_FFFF_FFFF if n is not None else None for n in nums], pa.uint64()),
    })
    con.register("gw_lookup_in", table)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE gw_lookup AS SELECT pos, ip, {uhugeint_sql('hi', 'lo')} AS ip_num "
                    "FROM gw_lookup_in")
    finally:
        con.unregister("gw_lookup_in")
    cur = con.execute(
        """SELECT l.pos, l.ip, l.ip_num IS NOT NULL AS valid, r.asn, r.as_org, r.country, r.source
        FROM gw_lookup l LEFT JOIN (
            SELECT l2.pos, a.asn, a.as_org, a.country, a.source
            FROM (SELECT * FROM gw_lookup WHERE ip_num IS NOT NULL) l2
            ASOF JOIN asn_ranges a ON l2.ip_num >= a.range_start
            WHERE l2.ip_num <= a.range_end) r USING (pos)
        ORDER BY l.pos""")
    names = [d[0] for d in cur.description]
    out = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    con.execute("DROP TABLE IF EXISTS gw_lookup")
    return out


def enrich_requests(con: duckdb.DuckDBPyConnection) -> int:
    """Fill asn/as_org/country on `requests` rows that lack an ASN, from `asn_ranges`; returns rows updated.

    The lookup runs once per distinct address, then one set-based UPDATE joins it back. Values that came
    from the log itself (an ASN the CDN logged) are never overwritten.
    """
    con.execute(
        """CREATE OR REPLACE TEMP TABLE gw_enrich_ips AS
        SELECT m.ip_num, a.asn, a.as_org, a.country
        FROM (SELECT DISTINCT ip_num FROM requests WHERE asn IS NULL AND ip_num IS NOT NULL) m
        ASOF JOIN asn_ranges a ON m.ip_num >= a.range_start
        WHERE m.ip_num <= a.range_end"""
    )
    try:
        cur = con.execute(
            """UPDATE requests SET asn = e.asn, as_org = coalesce(requests.as_org, e.as_org),
                   country = coalesce(requests.country, upper(e.country))
            FROM gw_enrich_ips e WHERE requests.asn IS NULL AND requests.ip_num = e.ip_num""")
        updated = cur.fetchall()[0][0]
    finally:
        con.execute("DROP TABLE IF EXISTS gw_enrich_ips")
    return int(updated)
