"""Client addresses: normalised text and a 128-bit number on one axis for IPv4 and IPv6.

IPv4 is converted in SQL. IPv6 needs `::` expansion, which SQL cannot do cleanly, so it is
converted with `ipaddress` over the *distinct* IPv6 strings of a batch and joined back.
"""

from __future__ import annotations

import ipaddress

import duckdb
import pyarrow as pa

IPV4_MAPPED_BASE = 0xFFFF_0000_0000


def ip_to_num(text: str) -> int | None:
    """Python twin of the SQL conversion (used for IPv6, allowlists and tests)."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if isinstance(addr, ipaddress.IPv4Address):
        return IPV4_MAPPED_BASE + int(addr)
    return int(addr)


def uhugeint_sql(hi: str, lo: str) -> str:
    return f"(CAST({hi} AS UHUGEINT) * CAST(18446744073709551616 AS UHUGEINT) + CAST({lo} AS UHUGEINT))"


def build_ip_map(con: duckdb.DuckDBPyConnection, source: str, into: str = "gw_ip_map") -> None:
    """Create temp table `into`(raw_ip, client_ip, ip_num) for the distinct client_ip values of `source`."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {into} AS
        SELECT raw_ip, gw_ip_text(raw_ip) AS client_ip, gw_ipv4_num(gw_ip_text(raw_ip)) AS ip_num
        FROM (SELECT DISTINCT client_ip AS raw_ip FROM {source} WHERE client_ip IS NOT NULL)"""
    )
    v6 = [r[0] for r in con.execute(
        f"SELECT DISTINCT client_ip FROM {into} WHERE ip_num IS NULL AND client_ip LIKE '%:%'").fetchall()]
    if not v6:
        return
    texts, his, los = [], [], []
    for text in v6:
        try:
            addr = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            continue
        if addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) else False:
            addr = addr.ipv4_mapped
        num = ip_to_num(str(addr))
        texts.append((text, str(addr)))
        his.append(num >> 64)
        los.append(num & 0xFFFF_FFFF_FFFF_FFFF)
    fixes = pa.table({
        "client_ip": pa.array([t[0] for t in texts], pa.string()),
        "normal": pa.array([t[1] for t in texts], pa.string()),
        "hi": pa.array(his, pa.uint64()),
        "lo": pa.array(los, pa.uint64()),
    })
    con.register("gw_ip_fixes", fixes)
    try:
        con.execute(
            f"""UPDATE {into} SET client_ip = f.normal, ip_num = {uhugeint_sql('f.hi', 'f.lo')}
            FROM gw_ip_fixes f WHERE {into}.client_ip = f.client_ip"""
        )
    finally:
        con.unregister("gw_ip_fixes")
