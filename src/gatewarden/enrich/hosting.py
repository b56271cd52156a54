"""Hosting / datacenter / VPN ASNs from bundled public lists (data/hosting, MIT), as the `asn_info` table.

`asn_info` is rebuilt only when the bundled files change (their hash is kept in `bundled_data`), so a
connect costs one small query. Config `enrich.hosting_asns_extra/_exclude` applies at query time
through `hosting_asn_sql` / the `asn_flags` temp view, so editing the config never needs a reload.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from importlib import resources

import duckdb
import pyarrow as pa

from gatewarden.config import EnrichConfig

# (file, list name, is_vpn): every list marks hosting/datacenter origin except the VPN one.
HOSTING_LISTS = (
    ("brianhama-bad-asn-list.csv", "brianhama", False),
    ("brianhama-only-number.txt", "brianhama", False),
    ("x4bnet-datacenter-ASN.txt", "x4bnet-datacenter", False),
    ("x4bnet-vpn-ASN.txt", "x4bnet-vpn", True),
)
AS_LINE = re.compile(r"^\s*(?:AS)?([0-9]+)\s*(?:#\s*(.*))?$", re.IGNORECASE)


def _files() -> list[tuple[str, str, bool, bytes]]:
    folder = resources.files("gatewarden") / "data" / "hosting"
    return [(name, label, vpn, (folder / name).read_bytes()) for name, label, vpn in HOSTING_LISTS]


def _entries(name: str, text: str) -> list[tuple[int, str | None]]:
    if name.endswith(".csv"):
        reader = csv.reader(io.StringIO(text), skipinitialspace=True)
        return [(int(row[0]), row[1].strip() or None) for row in reader
                if len(row) >= 2 and row[0].strip().isdigit()]
    out = []
    for line in text.splitlines():
        match = AS_LINE.match(line)
        if match:
            out.append((int(match.group(1)), (match.group(2) or "").strip() or None))
    return out


def ensure_asn_info(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)load `asn_info` when it is missing or the bundled lists changed."""
    files = _files()
    version = hashlib.sha256(b"".join(data for *_, data in files)).hexdigest()[:16]
    current = con.execute("SELECT version FROM bundled_data WHERE name = 'asn_info'").fetchall()
    if current and current[0][0] == version:
        return
    merged: dict[int, dict] = {}
    for name, label, vpn, data in files:
        for asn, org in _entries(name, data.decode("utf-8", errors="replace")):
            row = merged.setdefault(asn, {"as_org": None, "hosting": False, "vpn": False, "sources": []})
            row["as_org"] = row["as_org"] or org
            row["hosting"] = row["hosting"] or not vpn
            row["vpn"] = row["vpn"] or vpn
            if label not in row["sources"]:
                row["sources"].append(label)
    asns = sorted(merged)
    table = pa.table({
        "asn": pa.array(asns, pa.int32()),
        "as_org": pa.array([merged[a]["as_org"] for a in asns], pa.string()),
        "is_hosting": pa.array([merged[a]["hosting"] for a in asns], pa.bool_()),
        "is_vpn": pa.array([merged[a]["vpn"] for a in asns], pa.bool_()),
        "source": pa.array([",".join(merged[a]["sources"]) for a in asns], pa.string()),
    })
    con.register("gw_asn_info_new", table)
    con.begin()
    try:
        con.execute("DELETE FROM asn_info")
        con.execute("INSERT INTO asn_info SELECT asn, as_org, is_hosting, is_vpn, source FROM gw_asn_info_new")
        con.execute("DELETE FROM bundled_data WHERE name = 'asn_info'")
        con.execute("INSERT INTO bundled_data VALUES ('asn_info', ?, current_timestamp)", [version])
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.unregister("gw_asn_info_new")


def _int_list(values: list[int]) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]::INTEGER[]"


def hosting_asn_sql(cfg: EnrichConfig | None = None) -> str:
    """SELECT of (asn, as_org, is_hosting, is_vpn, source) with the config's extra and excluded ASNs applied.

    Join it on `asn`, e.g. `LEFT JOIN ({hosting_asn_sql(cfg.enrich)}) f USING (asn)`; an ASN not in it is
    not known as hosting.
    """
    cfg = cfg or EnrichConfig()
    extra, exclude = _int_list(cfg.hosting_asns_extra), _int_list(cfg.hosting_asns_exclude)
    return f"""SELECT coalesce(i.asn, x.asn) AS asn, i.as_org,
               coalesce(i.is_hosting, false) OR x.asn IS NOT NULL AS is_hosting,
               coalesce(i.is_vpn, false) AS is_vpn,
               CASE WHEN x.asn IS NULL THEN i.source WHEN i.asn IS NULL THEN 'config' ELSE i.source || ',config' END AS source
        FROM asn_info i
        FULL JOIN (SELECT DISTINCT unnest({extra}) AS asn) x ON x.asn = i.asn
        WHERE NOT list_contains({exclude}, coalesce(i.asn, x.asn))"""


def create_asn_flags(con: duckdb.DuckDBPyConnection, cfg: EnrichConfig | None = None) -> None:
    """Temp view `asn_flags` (asn, as_org, is_hosting, is_vpn, source) for detectors to join on `asn`."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW asn_flags AS {hosting_asn_sql(cfg)}")
