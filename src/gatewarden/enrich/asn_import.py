"""`asn import`: IP-to-ASN tables of several publishers -> disjoint `asn_ranges` on the ip_num axis.

Each file is read by DuckDB into a text staging table, IPv4 is converted in SQL, IPv6 in Python over the
distinct IPv6 strings only, and the result is merged with what is already imported (rows of the same
source file are replaced). Where ranges overlap the narrower one wins, so `asn_lookup`'s ASOF join
finds exactly one range per address.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from gatewarden.db import scalar
from gatewarden.enrich import sql_str
from gatewarden.enrich.ip import ip_to_num, uhugeint_sql
from gatewarden.errors import GatewardenError, UsageError

FORMATS = ("iptoasn", "ip-location-db", "maxmind", "pyasn", "pyasn-names")
IPV4_RE = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}"
STAGE = "gw_asn_stage"


@dataclass
class ImportResult:
    path: Path
    format: str
    rows: int = 0
    ranges: int = 0
    not_routed: int = 0
    invalid: int = 0
    examples: list[str] = field(default_factory=list)


def _head(path: Path, lines: int = 8) -> list[str]:
    with path.open("rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    out: list[str] = []
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:  # type: ignore[operator]
        for line in fh:
            if line.strip():
                out.append(line.rstrip("\r\n"))
            if len(out) >= lines:
                break
    return out


def sniff_asn_format(path: Path) -> str:
    """Tell the table format from the first lines; a clear error when it is none of ours."""
    head = _head(path)
    if not head:
        raise GatewardenError(f"{path} is empty.", "Give an IP-to-ASN table file.")
    first = head[0].lstrip("\ufeff")
    data = [h for h in head if not h.startswith(";")]
    if first.startswith("{"):
        return "pyasn-names"
    if first.lower().startswith("network,") and "autonomous_system_number" in first.lower():
        return "maxmind"
    if first.startswith(";") or (data and re.fullmatch(r"[0-9A-Fa-f:.]+/[0-9]{1,3}\t[0-9]+", data[0])):
        return "pyasn"
    cells = first.split("\t")
    if len(cells) >= 4 and ip_to_num(cells[0]) is not None and ip_to_num(cells[1]) is not None:
        return "iptoasn"
    cells = first.split(",")
    if len(cells) >= 3 and ip_to_num(cells[0]) is not None and ip_to_num(cells[1]) is not None:
        return "ip-location-db"
    raise UsageError(
        f"{path}: cannot tell the IP-to-ASN format from its first line {first[:120]!r}.",
        f"Give --format explicitly, one of: {', '.join(FORMATS[:4])}.",
    )


def _stage_sql(path: Path, fmt: str) -> str:
    """SELECT of (start_text, end_text, prefix_len, asn_text, as_org, country) for one file, all text."""
    p = sql_str(str(path))
    if fmt == "iptoasn":
        return f"""SELECT s AS start_text, e AS end_text, NULL::INTEGER AS prefix_len, asn AS asn_text,
            nullif(org, 'Not routed') AS as_org, nullif(nullif(country, 'None'), '') AS country
            FROM read_csv({p}, delim='\t', quote='', header=false, auto_detect=false, null_padding=true,
                columns={{'s': 'VARCHAR', 'e': 'VARCHAR', 'asn': 'VARCHAR', 'country': 'VARCHAR', 'org': 'VARCHAR'}})"""
    if fmt == "ip-location-db":
        return f"""SELECT s AS start_text, e AS end_text, NULL::INTEGER AS prefix_len, asn AS asn_text,
            org AS as_org, NULL::VARCHAR AS country
            FROM read_csv({p}, delim=',', quote='"', header=false, auto_detect=false, null_padding=true,
                columns={{'s': 'VARCHAR', 'e': 'VARCHAR', 'asn': 'VARCHAR', 'org': 'VARCHAR'}})"""
    if fmt == "maxmind":
        return f"""SELECT split_part(network, '/', 1) AS start_text, NULL::VARCHAR AS end_text,
            TRY_CAST(split_part(network, '/', 2) AS INTEGER) AS prefix_len,
            autonomous_system_number AS asn_text, autonomous_system_organization AS as_org, NULL::VARCHAR AS country
            FROM read_csv({p}, header=true, auto_detect=false, delim=',', quote='"', null_padding=true,
                columns={{'network': 'VARCHAR', 'autonomous_system_number': 'VARCHAR',
                          'autonomous_system_organization': 'VARCHAR'}})"""
    if fmt == "pyasn":
        return f"""SELECT split_part(prefix, '/', 1) AS start_text, NULL::VARCHAR AS end_text,
            TRY_CAST(split_part(prefix, '/', 2) AS INTEGER) AS prefix_len, asn AS asn_text,
            NULL::VARCHAR AS as_org, NULL::VARCHAR AS country
            FROM read_csv({p}, delim='\t', quote='', header=false, auto_detect=false, comment=';', null_padding=true,
                columns={{'prefix': 'VARCHAR', 'asn': 'VARCHAR'}})"""
    raise UsageError(f"Unknown ASN table format {fmt!r}.", f"Use one of: auto, {', '.join(FORMATS[:4])}.")


def _load_names(path: Path) -> pa.Table:
    """pyasn asnames JSON {"15169": "GOOGLE - Google LLC, US"} -> (asn, as_org, country)."""
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
            names = json.load(fh)
    except (OSError, ValueError) as exc:
        raise GatewardenError(f"{path}: not a pyasn asnames JSON file ({exc}).", "Give pyasn's asnames.json(.gz).") from None
    asns, orgs, countries = [], [], []
    for key, value in names.items():
        if not str(key).isdigit() or not isinstance(value, str):
            continue
        org, sep, cc = value.rpartition(", ")
        has_cc = bool(sep) and len(cc) == 2 and cc.isalpha()
        asns.append(int(key))
        orgs.append(org if has_cc else value)
        countries.append(cc.upper() if has_cc else None)
    return pa.table({"asn": pa.array(asns, pa.int64()), "as_org": pa.array(orgs, pa.string()),
                     "country": pa.array(countries, pa.string())})


def _convert(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Staged text -> gw_asn_new(range_start, range_end, asn, as_org, country, source, bad_reason)."""
    v6 = [r[0] for r in con.execute(
        f"""SELECT DISTINCT t FROM (SELECT start_text AS t FROM {STAGE} UNION ALL SELECT end_text FROM {STAGE})
        WHERE t LIKE '%:%'""").fetchall()]
    nums = [ip_to_num(t.strip()) for t in v6]
    fixes = pa.table({
        "t": pa.array(v6, pa.string()),
        "hi": pa.array([n >> 64 if n is not None else None for n in nums], pa.uint64()),
        "lo": pa.array([n & 0xFFFF_FFFF_FFFF_FFFF if n is not None else None for n in nums], pa.uint64()),
    })
    con.register("gw_asn_v6", fixes)
    try:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE gw_asn_conv AS
            SELECT s.*, coalesce(gw_ipv4_num(trim(s.start_text)), {uhugeint_sql('a.hi', 'a.lo')}) AS range_start,
                   coalesce(gw_ipv4_num(trim(s.end_text)), {uhugeint_sql('b.hi', 'b.lo')}) AS end_num,
                   regexp_full_match(trim(s.start_text), {sql_str(IPV4_RE)}) AS is_v4,
                   TRY_CAST(regexp_replace(trim(s.asn_text), '^(?i:AS)', '') AS BIGINT) AS asn_num
            FROM {STAGE} s
            LEFT JOIN gw_asn_v6 a ON a.t = s.start_text
            LEFT JOIN gw_asn_v6 b ON b.t = s.end_text""")
    finally:
        con.unregister("gw_asn_v6")
    host_bits = "CAST(CASE WHEN is_v4 THEN 32 ELSE 128 END - prefix_len AS UHUGEINT)"
    end = (f"CASE WHEN prefix_len IS NULL THEN end_num "
           f"ELSE range_start + ((CAST(1 AS UHUGEINT) << {host_bits}) - CAST(1 AS UHUGEINT)) END")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE gw_asn_new AS
        SELECT range_start, range_end, CAST(CASE WHEN asn_num BETWEEN 1 AND 2147483647 THEN asn_num END AS INTEGER) AS asn,
               nullif(trim(as_org), '') AS as_org,
               upper(nullif(trim(country), '')) AS country, {sql_str(source)} AS source, raw,
               CASE
                   WHEN range_start IS NULL THEN 'start address not understood'
                   WHEN asn_num IS NULL OR asn_num < 0 OR asn_num > 4294967295 THEN 'ASN not a number'
                   WHEN asn_num = 0 THEN 'not routed'
                   -- 32-bit private-use and reserved ASNs (RFC 6996/7300) name no operator and exceed INTEGER.
                   WHEN asn_num > 2147483647 THEN 'not routed'
                   WHEN prefix_len IS NOT NULL AND (prefix_len < 1 OR prefix_len > CASE WHEN is_v4 THEN 32 ELSE 128 END)
                       THEN 'prefix length out of range'
                   WHEN range_end IS NULL THEN 'end address not understood'
                   WHEN range_end < range_start THEN 'range end before its start'
               END AS bad_reason
        FROM (SELECT *, CASE WHEN prefix_len IS NULL OR (prefix_len BETWEEN 1 AND CASE WHEN is_v4 THEN 32 ELSE 128 END)
                             THEN {end} END AS range_end,
                     concat_ws(' ', start_text, end_text, prefix_len, asn_text, as_org) AS raw
              FROM gw_asn_conv)""")
    con.execute("DROP TABLE IF EXISTS gw_asn_conv")


def _resolve_overlaps(con: duckdb.DuckDBPyConnection) -> None:
    """gw_asn_all -> disjoint ranges in asn_ranges: within each cluster of overlapping ranges, cut at every
    boundary and give each piece to the narrowest covering range (ties: the newer import), then re-join
    adjacent pieces with the same owner. Clusters are tiny in real tables, so the range join stays small."""
    con.execute("""CREATE OR REPLACE TEMP TABLE gw_asn_clustered AS
        WITH ordered AS (
            SELECT *, max(range_end) OVER (ORDER BY range_start, range_end
                                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
            FROM gw_asn_all)
        SELECT *, sum(CASE WHEN prev_end IS NULL OR range_start > prev_end THEN 1 ELSE 0 END)
                      OVER (ORDER BY range_start, range_end ROWS UNBOUNDED PRECEDING) AS cluster
        FROM ordered""")
    con.execute("""CREATE OR REPLACE TEMP TABLE gw_asn_sized AS
        SELECT *, count(*) OVER (PARTITION BY cluster) AS n FROM gw_asn_clustered""")
    con.execute("""CREATE OR REPLACE TEMP TABLE gw_asn_pieces AS
        WITH conflicted AS (SELECT * FROM gw_asn_sized WHERE n > 1),
        cuts AS (
            SELECT DISTINCT cluster, range_start AS p FROM conflicted
            UNION SELECT DISTINCT cluster, range_end + CAST(1 AS UHUGEINT) FROM conflicted
            WHERE range_end < CAST(340282366920938463463374607431768211455 AS UHUGEINT)),
        bounds AS (
            SELECT cluster, p AS piece_start, lead(p) OVER (PARTITION BY cluster ORDER BY p) - CAST(1 AS UHUGEINT) AS piece_end
            FROM cuts),
        owners AS (
            SELECT b.piece_start, b.piece_end, c.asn, c.as_org, c.country, c.source,
                   row_number() OVER (PARTITION BY b.cluster, b.piece_start
                                      ORDER BY c.range_end - c.range_start, c.gen DESC, c.ord) AS rank
            FROM bounds b JOIN conflicted c
              ON c.cluster = b.cluster AND c.range_start <= b.piece_start AND c.range_end >= b.piece_end
            WHERE b.piece_end IS NOT NULL),
        won AS (SELECT * FROM owners WHERE rank = 1),
        islands AS (
            SELECT *, sum(CASE WHEN prev_end IS NOT NULL AND prev_end + CAST(1 AS UHUGEINT) = piece_start
                                    AND prev_owner IS NOT DISTINCT FROM owner THEN 0 ELSE 1 END)
                          OVER (ORDER BY piece_start ROWS UNBOUNDED PRECEDING) AS island
            FROM (SELECT *, (asn, as_org, country, source) AS owner,
                         lag(piece_end) OVER (ORDER BY piece_start) AS prev_end,
                         lag((asn, as_org, country, source)) OVER (ORDER BY piece_start) AS prev_owner
                  FROM won))
        SELECT min(piece_start) AS range_start, max(piece_end) AS range_end,
               any_value(asn) AS asn, any_value(as_org) AS as_org, any_value(country) AS country, any_value(source) AS source
        FROM islands GROUP BY island""")
    # Staging runs outside any transaction; only the swap is one, so readers never see a half-imported table.
    con.begin()
    try:
        con.execute("DELETE FROM asn_ranges")
        con.execute("""INSERT INTO asn_ranges
            SELECT range_start, range_end, asn, as_org, country, source FROM gw_asn_sized WHERE n = 1
            UNION ALL SELECT range_start, range_end, asn, as_org, country, source FROM gw_asn_pieces
            ORDER BY range_start""")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    for name in ("gw_asn_clustered", "gw_asn_sized", "gw_asn_pieces"):
        con.execute(f"DROP TABLE IF EXISTS {name}")


def import_asn_files(con: duckdb.DuckDBPyConnection, paths: list[Path], fmt: str = "auto",
                     replace: bool = False) -> list[ImportResult]:
    """Import IP-to-ASN tables into `asn_ranges` (swapped in one transaction). A pyasn asnames JSON among `paths`
    names the ASNs of the pyasn .dat files imported with it."""
    if fmt != "auto" and fmt not in FORMATS:
        raise UsageError(f"Unknown ASN table format {fmt!r}.", f"Use one of: auto, {', '.join(FORMATS)}.")
    for path in paths:
        if not path.is_file():
            raise UsageError(f"{path} does not exist or is not a file.", "Give IP-to-ASN table files.")
    formats = {path: (fmt if fmt != "auto" else sniff_asn_format(path)) for path in paths}
    names = [p for p, f in formats.items() if f == "pyasn-names"]
    if len(names) > 1:
        raise UsageError("More than one asnames JSON given.", "Give one pyasn asnames file per import.")
    results: list[ImportResult] = []
    try:
        con.execute("""CREATE OR REPLACE TEMP TABLE gw_asn_all AS
            SELECT *, 0 AS gen, row_number() OVER () AS ord FROM asn_ranges WHERE NOT ?""", [replace])
        if names:
            con.register("gw_asn_names", _load_names(names[0]))
        for path, f in formats.items():
            if f == "pyasn-names":
                continue
            results.append(_import_one(con, path, f, bool(names)))
        _resolve_overlaps(con)
    except duckdb.Error as exc:
        raise GatewardenError(f"ASN import failed: {str(exc).splitlines()[0]}",
                              "Check that each file is a complete table in the format named (see --format).") from None
    finally:
        if names:
            con.unregister("gw_asn_names")
        for name in (STAGE, "gw_asn_new", "gw_asn_all"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
    return results


def _import_one(con: duckdb.DuckDBPyConnection, path: Path, fmt: str, have_names: bool) -> ImportResult:
    source = f"{fmt}:{path.name}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE} AS {_stage_sql(path, fmt)}")
    _convert(con, source)
    if fmt == "pyasn" and have_names:
        con.execute("""UPDATE gw_asn_new SET as_org = n.as_org, country = n.country
                       FROM gw_asn_names n WHERE gw_asn_new.asn = n.asn""")
    result = ImportResult(path, fmt, rows=scalar(con, f"SELECT count(*) FROM {STAGE}"))
    result.not_routed = scalar(con, "SELECT count(*) FROM gw_asn_new WHERE bad_reason = 'not routed'")
    result.invalid = scalar(con, "SELECT count(*) FROM gw_asn_new WHERE bad_reason IS NOT NULL AND bad_reason <> 'not routed'")
    result.examples = [f"{reason}: {raw}" for reason, raw in con.execute(
        "SELECT bad_reason, left(raw, 160) FROM gw_asn_new WHERE bad_reason IS NOT NULL AND bad_reason <> 'not routed' "
        "LIMIT 5").fetchall()]
    con.execute("DELETE FROM gw_asn_all WHERE source = ?", [source])
    con.execute("""INSERT INTO gw_asn_all
        SELECT range_start, range_end, asn, as_org, country, source, 1, row_number() OVER () + 1000000000000
        FROM gw_asn_new WHERE bad_reason IS NULL""")
    result.ranges = result.rows - result.not_routed - result.invalid
    return result
