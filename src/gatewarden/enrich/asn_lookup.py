"""ASN lookup for the distinct addresses of a batch: an ASOF join on the ip_num axis."""

from __future__ import annotations

import duckdb


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
