"""ASN tables through the real CLI and real DuckDB files: formats, overlaps, lookups, enrichment."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import DATA, SHARED
from gatewarden.config import DatabaseConfig
from gatewarden.db import connect, rows, scalar
from gatewarden.enrich.asn_import import import_asn_files, sniff_asn_format
from gatewarden.enrich.asn_lookup import lookup_ips

ASN = DATA / "asn"
V4 = ASN / "ip-location-db-asn-ipv4-excerpt.csv.gz"
V6 = ASN / "ip-location-db-asn-ipv6-excerpt.csv.gz"


def _overlaps(con) -> int:
    return scalar(con, "SELECT count(*) FROM (SELECT range_start, lag(range_end) OVER (ORDER BY range_start) AS prev "
                       "FROM asn_ranges) WHERE range_start <= prev")


@pytest.mark.parametrize(("name", "fmt"), [
    ("ip-location-db-asn-ipv4-excerpt.csv.gz", "ip-location-db"),
    ("ip-location-db-asn-ipv6-excerpt.csv.gz", "ip-location-db"),
    ("iptoasn-ip2asn-v4-excerpt.tsv", "iptoasn"),
    ("pyasn-ipasn-excerpt.dat", "pyasn"),
    ("pyasn-asnames-excerpt.json", "pyasn-names"),
])
def test_sniffs_each_format(name: str, fmt: str) -> None:
    assert sniff_asn_format(ASN / name) == fmt


def test_import_and_lookup_through_cli(cli, db_path: Path) -> None:
    result = cli("asn", "import", V4, V6, "--db", db_path)
    assert result.exit_code == 0, result.output
    assert "disjoint ranges" in result.stdout
    result = cli("asn", "lookup", "8.8.8.8", "178.32.46.62", "2001:4860:4860::8888", "::ffff:8.8.8.4", "--db", db_path)
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("│")}
    assert "15169" in lines["8.8.8.8"] and "yes" in lines["8.8.8.8"]  # Google is a listed hosting ASN
    assert "16276" in lines["178.32.46.62"] and "OVH" in lines["178.32.46.62"]
    assert "15169" in lines["2001:4860:4860::8888"]
    assert "15169" in lines["::ffff:8.8.8.4"]


def test_lookup_rejects_non_addresses(cli, db_path: Path) -> None:
    result = cli("asn", "lookup", "not-an-ip", "--db", db_path)
    assert result.exit_code == 1
    assert "not an IP address" in result.stdout


def test_overlaps_resolved_narrower_wins(db_path: Path) -> None:
    con = connect(DatabaseConfig(path=db_path))
    import_asn_files(con, [V4])
    assert _overlaps(con) == 0
    # 214.95.0.0-215.0.255.255 (AS749) overlaps the narrower 215.0.0.0-215.1.3.255 (AS721): the overlap goes to 721.
    got = {r["ip"]: r["asn"] for r in lookup_ips(con, ["214.95.0.1", "215.0.0.1", "215.1.0.1"])}
    assert got == {"214.95.0.1": 749, "215.0.0.1": 721, "215.1.0.1": 721}
    con.close()


def test_pyasn_with_names_and_nested_prefixes(db_path: Path, tmp_path: Path) -> None:
    dat = tmp_path / "nested.dat"
    dat.write_text("; IP-ASN32-DAT file\n10.0.0.0/8\t64500\n10.1.0.0/16\t64501\n10.1.2.0/24\t64502\n", encoding="utf-8")
    con = connect(DatabaseConfig(path=db_path))
    import_asn_files(con, [ASN / "pyasn-ipasn-excerpt.dat", ASN / "pyasn-asnames-excerpt.json", dat])
    assert _overlaps(con) == 0
    got = {r["ip"]: r["asn"] for r in lookup_ips(con, ["10.0.0.1", "10.1.0.1", "10.1.2.3", "10.1.3.1", "10.200.0.1"])}
    assert got == {"10.0.0.1": 64500, "10.1.0.1": 64501, "10.1.2.3": 64502, "10.1.3.1": 64501, "10.200.0.1": 64500}
    org, country = rows(con, "SELECT as_org, country FROM asn_ranges WHERE asn = 15169 LIMIT 1")[0]
    assert org == "GOOGLE - Google Inc." and country == "US"
    con.close()


def test_iptoasn_skips_not_routed_and_counts_invalid(db_path: Path, tmp_path: Path) -> None:
    tsv = tmp_path / "ip2asn-v4.tsv"
    tsv.write_text("1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n"
                   "1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n"
                   "1.0.4.0\tnot-an-ip\t38803\tAU\tGTELECOM\n", encoding="utf-8")
    con = connect(DatabaseConfig(path=db_path))
    (result,) = import_asn_files(con, [tsv])
    assert (result.rows, result.ranges, result.not_routed, result.invalid) == (3, 1, 1, 1)
    assert "end address not understood" in result.examples[0]
    assert rows(con, "SELECT asn, country FROM asn_ranges") == [(13335, "US")]
    con.close()


def test_maxmind_csv(db_path: Path, tmp_path: Path) -> None:
    csv = tmp_path / "GeoLite2-ASN-Blocks-IPv6.csv"
    csv.write_text("network,autonomous_system_number,autonomous_system_organization\n"
                   "2001:4860::/32,15169,\"Google, LLC\"\n8.8.8.0/24,15169,GOOGLE\n", encoding="utf-8")
    con = connect(DatabaseConfig(path=db_path))
    (result,) = import_asn_files(con, [csv])
    assert result.format == "maxmind" and result.ranges == 2
    got = {r["ip"]: (r["asn"], r["as_org"]) for r in lookup_ips(con, ["2001:4860:ffff::1", "8.8.8.255", "8.8.9.0"])}
    assert got == {"2001:4860:ffff::1": (15169, "Google, LLC"), "8.8.8.255": (15169, "GOOGLE"), "8.8.9.0": (None, None)}
    con.close()


def test_reimport_replaces_same_source_and_replace_flag_clears(db_path: Path) -> None:
    con = connect(DatabaseConfig(path=db_path))
    import_asn_files(con, [V4, V6])
    before = scalar(con, "SELECT count(*) FROM asn_ranges")
    import_asn_files(con, [V4])
    assert scalar(con, "SELECT count(*) FROM asn_ranges") == before
    import_asn_files(con, [V6], replace=True)
    assert scalar(con, "SELECT count(DISTINCT source) FROM asn_ranges") == 1
    con.close()


def test_unknown_format_is_a_clear_error(cli, db_path: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("hello world\n", encoding="utf-8")
    result = cli("asn", "import", junk, "--db", db_path)
    assert result.exit_code == 2
    assert "cannot tell the IP-to-ASN format" in result.stderr


def test_enrich_fills_ingested_requests(cli, db_path: Path, tmp_path: Path) -> None:
    log = tmp_path / "req.jsonl"
    log.write_text('{"ts": "2024-05-01T00:00:00Z", "client_ip": "178.32.46.62", "method": "GET", "path": "/v1/models"}\n'
                   '{"ts": "2024-05-01T00:00:01Z", "client_ip": "2001:4860:4860::8888", "method": "GET", "path": "/v1/models"}\n'
                   '{"ts": "2024-05-01T00:00:02Z", "client_ip": "192.0.2.1", "method": "GET", "path": "/v1/models", "asn": "AS64500"}\n',
                   encoding="utf-8")
    assert cli("ingest", log, "--db", db_path, "--format", "jsonl").exit_code == 0
    result = cli("asn", "import", V4, V6, "--db", db_path)
    assert result.exit_code == 0, result.output
    assert "2 requests given an ASN" in result.stdout
    con = connect(DatabaseConfig(path=db_path))
    got = dict(rows(con, "SELECT client_ip, asn FROM requests"))
    con.close()
    assert got == {"178.32.46.62": 16276, "2001:4860:4860::8888": 15169, "192.0.2.1": 64500}


@pytest.mark.skipif(not (SHARED / "asn" / "ip-location-db-asn" / "asn-ipv4.csv.gz").exists(), reason="needs /work/shared")
def test_full_ip_location_db_spot_checks(db_path: Path) -> None:
    folder = SHARED / "asn" / "ip-location-db-asn"
    con = connect(DatabaseConfig(path=db_path))
    import_asn_files(con, [folder / "asn-ipv4.csv.gz", folder / "asn-ipv6.csv.gz"])
    assert _overlaps(con) == 0
    got = {r["ip"]: r["asn"] for r in lookup_ips(con, ["8.8.8.8", "178.32.46.62", "66.249.66.1", "157.55.39.1", "20.171.206.5"])}
    assert got == {"8.8.8.8": 15169, "178.32.46.62": 16276, "66.249.66.1": 15169, "157.55.39.1": 8075, "20.171.206.5": 8075}
    con.close()

