"""Property tests: random field values rendered by a log template come back unchanged through the real ingest."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TEST_KEY

ipv4 = st.integers(1, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
ipv6 = st.integers(2**112, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n)))
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "PROPFIND"])
paths = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='"\\'), max_size=40).map(lambda s: "/" + s)
agents = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=40).filter(lambda s: s.strip() == s and s != "-")
times = st.integers(0, 10**9).map(lambda s: datetime(2020, 1, 1) + timedelta(seconds=s))
records = st.fixed_dictionaries({"ip": st.one_of(ipv4, ipv6), "method": methods, "path": paths, "status": st.integers(100, 599),
                                 "size": st.integers(0, 10**12), "ua": agents, "ts": times})
SETTINGS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def ua_nginx(ua: str) -> str:
    return ua.replace("\\", "\\x5C").replace('"', "\\x22")


def combined(r):
    return (f'{r["ip"]} - - [{r["ts"].strftime("%d/%b/%Y:%H:%M:%S")} +0000] "{r["method"]} {r["path"]} HTTP/1.1" '
            f'{r["status"]} {r["size"]} "-" "{r["ua"].replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"')


def log_format(r):
    return (f'{r["ts"].strftime("%Y-%m-%dT%H:%M:%S")}+00:00|{r["ip"]}|"{r["method"]} {r["path"]} HTTP/2.0"|{r["status"]}|'
            f'{r["size"]}|"{ua_nginx(r["ua"])}"')


def alb(r):
    return (f'https {r["ts"].strftime("%Y-%m-%dT%H:%M:%S")}.000000Z app/x/1 {r["ip"] if "." in r["ip"] else "[" + r["ip"] + "]"}:5 '
            f'- 0.001 0.001 0.001 {r["status"]} - 1 {r["size"]} "{r["method"]} https://h.example:443{r["path"]} HTTP/1.1" '
            f'"{alb_escape(r["ua"])}" - - - "Root=1" "-" "-" 0 - "forward" "-" "-" "-" "-" "-" "-"')


def alb_escape(text):
    """A quoted ALB field escapes backslashes and quotes; without the first, a value ending in \\ is ambiguous."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def cloudflare(r):
    return json.dumps({"EdgeStartTimestamp": r["ts"].replace(tzinfo=UTC).isoformat(), "ClientIP": r["ip"],
                       "ClientRequestMethod": r["method"], "ClientRequestURI": r["path"], "EdgeResponseStatus": r["status"],
                       "EdgeResponseBytes": r["size"], "ClientRequestUserAgent": r["ua"]})


TEMPLATES = {"combined": (combined, []), "alb": (alb, []), "cloudflare": (cloudflare, []),
             "log_format": (log_format, ["--log-format", '$time_iso8601|$remote_addr|"$request"|$status|$body_bytes_sent|'
                                                           '"$http_user_agent"'])}


def round_trip(tmp_path_factory, cli, name, batch):
    render, args = TEMPLATES[name]
    folder = tmp_path_factory.mktemp(name)
    log, db = folder / "in.log", folder / "gw.duckdb"
    log.write_text("\n".join(render(r) for r in batch) + "\n")
    result = cli("ingest", log, "--db", db, *args, env={"GATEWARDEN_TOKEN_KEY": TEST_KEY})
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db), read_only=True)
    got = con.execute("SELECT client_ip, method, status, bytes_out, user_agent, ts FROM requests ORDER BY source_line").fetchall()
    paths = con.execute("SELECT count(*) FROM requests WHERE path IS NULL").fetchall()[0][0]
    con.close()
    want = [(str(ipaddress.ip_address(r["ip"])), r["method"], r["status"], r["size"], r["ua"], r["ts"]) for r in batch]
    assert got == want and paths == 0


@pytest.mark.parametrize("name", sorted(TEMPLATES))
@SETTINGS
@given(st.lists(records, min_size=1, max_size=15))
def test_round_trip(tmp_path_factory, cli, name, batch):
    round_trip(tmp_path_factory, cli, name, batch)
