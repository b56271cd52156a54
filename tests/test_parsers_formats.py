"""Every log format through the real CLI into a real DuckDB file: sniffing, fields, rejects."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SHARED, fetch


def ingest(cli, db_path, path, *args):
    result = cli("ingest", path, "--db", db_path, *args)
    assert result.exit_code == 0, result.output
    return fetch(db_path, "SELECT format, lines, accepted, rejected FROM ingested_files")[-1]


NGINX_LINES = [
    '1.2.3.4 - - [20/Nov/2026:10:00:00 +0000] "GET /v1/models HTTP/1.1" 200 512 "-" "curl/8.0"',
    '1.2.3.4 - bob [20/Nov/2026:10:00:01 +0100] "POST /login HTTP/2.0" 401 - "https://a.example/" "ua \\"quoted\\""',
    'api.example.com:443 5.6.7.8 - - [20/Nov/2026:10:00:02 +0000] "GET /x HTTP/1.1" 200 1 "-" "m"',
    '9.9.9.9 - - [20/Nov/2026:10:00:03 +0000] "GET http://proxy.test/ HTTP/1.1" 404 0',
    '"2001:db8::1 - - [20/Nov/2026:10:00:04 +0000] "GET /q HTTP/1.1" 200 3 "-" "w3af.org""\r',
    'Sep 15 16:13:46 web nginx[2869]: 10.0.0.1 - - [20/Nov/2026:10:00:05 +0000] "GET /s HTTP/1.1" 200 9 "-" "s" "-" 0.004',
    '10.0.0.2 - - [20/Nov/2026:10:00:06 +0000] "\\x16\\x03\\x01\\x00" 400 157 "-" "-"',
    'crawler.example.net - - [20/Nov/2026:10:00:07 +0000] "HEAD / HTTP/1.0" 200 0 "-" "-"',
    '2026/11/20 10:00:08 [error] 31#31: *46 user "foo" was not found in "/etc/htpasswd", client: 10.0.0.3, server: _, '
    'request: "GET /admin HTTP/1.1", host: "localhost"',
]


def test_nginx_family_sniffed_and_read(tmp_path, db_path, cli):
    log = tmp_path / "access.log"
    log.write_text("\n".join(NGINX_LINES))  # no final newline: the last line still counts
    assert ingest(cli, db_path, log) == ("nginx", 9, 9, 0)
    rows = {r[0]: r[1:] for r in fetch(db_path, "SELECT source_line, client_ip, method, host, path, status, bytes_out, user_agent, "
                                                "CAST(ts AS VARCHAR) FROM requests")}
    assert rows[1] == ("1.2.3.4", "GET", None, "/v1/models", 200, 512, "curl/8.0", "2026-11-20 10:00:00")
    assert rows[2][4:7] == (401, None, 'ua "quoted"') and rows[2][7] == "2026-11-20 09:00:01"
    assert rows[3][:3] == ("5.6.7.8", "GET", "api.example.com")
    assert rows[4][2:4] == ("proxy.test", "http://proxy.test/")
    assert rows[5][0] == "2001:db8::1" and rows[5][5] == 3
    assert rows[6][0] == "10.0.0.1" and rows[6][5] == 9
    assert rows[7][1] is None and rows[7][3] == "\\x16\\x03\\x01\\x00" and rows[7][4] == 400
    assert rows[8][0] == "crawler.example.net"
    assert rows[9][:5] == ("10.0.0.3", "GET", "localhost", "/admin", None)


SAMPLE_FORMAT = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
                 '"$http_user_agent" $request_time "$http_authorization" $ssl_ja4 "$cookie_session" "$http_accept_language" '
                 '$request_id "$request_body"')


def test_log_format_with_secrets_fingerprints_and_graphql_body(tmp_path, db_path, cli):
    body = '{\\x22query\\x22:\\x22{ a { b } }\\x22}'
    line = ('1.2.3.4 - - [20/Nov/2026:10:00:00 +0000] "POST /graphql HTTP/1.1" 200 10 "-" "sdk \\x22x\\x22" 0.250 '
            '"Bearer sk-abcdefghijklmnopqrstuvwxyz" t13d1516h2_8daaf6152771_e5627efa2ab1 "s3ss10n" "en-US,en;q=0.9" '
            f'req-42 "{body}"')
    log = tmp_path / "api.log"
    log.write_text(line + "\n")
    assert ingest(cli, db_path, log, "--log-format", SAMPLE_FORMAT) == ("nginx", 1, 1, 0)
    row = fetch(db_path, "SELECT token, ja4, session_id, accept_language, request_id, graphql_query, user_agent, duration_ms "
                         "FROM requests")[0]
    assert row[0].startswith("h:") and row[1:6] == ("t13d1516h2_8daaf6152771_e5627efa2ab1", "s3ss10n", "en-US,en;q=0.9",
                                                      "req-42", "{ a { b } }")
    assert row[6] == 'sdk "x"' and row[7] == pytest.approx(250.0)
    assert "sk-abcdefghijkl" not in str(fetch(db_path, "SELECT * FROM requests"))


def test_apache_logformat_string(tmp_path, db_path, cli):
    log = tmp_path / "apache.log"
    log.write_text('1.2.3.4 - - [20/Nov/2026:10:00:00 +0000] "GET /a?b=1 HTTP/1.1" 200 5 "-" "ua" 1500 key_abc\n')
    fmt = '%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\" %D %{X-Api-Key}i'
    assert ingest(cli, db_path, log, "--log-format", fmt) == ("nginx", 1, 1, 0)
    assert fetch(db_path, "SELECT path, duration_ms, token FROM requests") == [("/a?b=1", 1.5, "key_abc")]


def test_alb(tmp_path, db_path, cli):
    log = tmp_path / "alb.log"
    log.write_text(
        'h2 2026-11-20T10:00:00.123456Z app/lb/1 203.0.113.5:4444 10.0.0.1:80 0.001 0.200 0.001 200 200 34 366 '
        '"GET https://api.example.com:443/v1/chat?x=1 HTTP/2.0" "curl/8" ECDHE TLSv1.2 arn:tg "Root=1-abc" "api.example.com" '
        '"arn:cert" 0 2026-11-20T10:00:00.000000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-"\n'
        'https 2026-11-20T10:00:01.000000Z app/lb/1 203.0.113.6:1 - -1 -1 -1 404 - 1 2 "GET https://h:443/.env HTTP/1.1" "-" - - - '
        '"Root=1-def" "-" "-" 0 2026-11-20T10:00:01.000000Z "waf" "-" "-" "-" "-" "-" "-"\n')
    assert ingest(cli, db_path, log) == ("alb", 2, 2, 0)
    rows = fetch(db_path, "SELECT client_ip, host, path, status, bytes_out, duration_ms, request_id FROM requests ORDER BY ts")
    assert rows[0] == ("203.0.113.5", "api.example.com", "/v1/chat?x=1", 200, 366, pytest.approx(202.0), "Root=1-abc")
    assert rows[1][:3] == ("203.0.113.6", "h", "/.env") and rows[1][5] is None


def test_cloudflare_three_timestamp_forms(tmp_path, db_path, cli):
    base = {"ClientIP": "198.51.100.7", "ClientASN": 13335, "ClientCountry": "us", "ClientRequestMethod": "POST",
            "ClientRequestHost": "api.example.com", "ClientRequestURI": "/v1/x?y=1", "EdgeResponseStatus": 429,
            "EdgeResponseBytes": 12, "ClientRequestUserAgent": "ua", "BotScore": 2, "JA3Hash": "abc", "JA4": "t13",
            "RayID": "8a1", "RequestHeaders": {"x-api-key": "key_123", "cookie": "a=1; session=zz"}}
    stamps = ["2026-11-20T10:00:00Z", 1795168800, 1795168800000000000]
    log = tmp_path / "cf.json"
    log.write_text("\n".join(json.dumps({**base, "EdgeStartTimestamp": s}) for s in stamps) + "\n")
    assert ingest(cli, db_path, log) == ("cloudflare", 3, 3, 0)
    rows = fetch(db_path, "SELECT DISTINCT CAST(ts AS VARCHAR), client_ip, asn, country, status, bot_score, ja3, ja4, request_id, "
                          "token, session_id FROM requests")
    assert rows == [("2026-11-20 10:00:00", "198.51.100.7", 13335, "US", 429, 2, "abc", "t13", "8a1", "key_123", "zz")]


def test_csv_auto_map_and_rejects_keep_line_numbers(tmp_path, db_path, cli):
    log = tmp_path / "export.csv"
    log.write_text('timestamp,remote_addr,uri,status,useragent,api\n2026-11-20T10:00:00Z,1.2.3.4,/a,200,"x, y",key_1\n'
                   '2026-11-20T10:00:01Z,1.2.3.5,/b,404\n2026-11-20T10:00:02Z,1.2.3.6,/c,200,"say ""hi""",key_2\n')
    assert ingest(cli, db_path, log, "--map", "token=api", "--max-reject-ratio", "0.5") == ("csv", 3, 2, 1)
    assert fetch(db_path, "SELECT source_line, client_ip, path, user_agent, token FROM requests ORDER BY 1") == [
        (2, "1.2.3.4", "/a", "x, y", "key_1"), (4, "1.2.3.6", "/c", 'say "hi"', "key_2")]
    assert fetch(db_path, "SELECT source_line, reason FROM rejects") == [(3, "expected 6 fields, found 4")]


def test_parquet(tmp_path, db_path, cli):
    path = tmp_path / "r.parquet"
    pq.write_table(pa.table({"ts": pa.array([1795168800000000, None], pa.timestamp("us")), "client_ip": ["1.1.1.1", "2.2.2.2"],
                             "status": [200, 500], "url": ["/a", "/b"]}), path)
    assert ingest(cli, db_path, path, "--max-reject-ratio", "0.5") == ("parquet", 2, 1, 1)
    assert fetch(db_path, "SELECT source_line, client_ip, status, path FROM requests") == [(1, "1.1.1.1", 200, "/a")]


def test_nginx_error_log_sniffed(tmp_path, db_path, cli):
    log = tmp_path / "error.log"
    log.write_text('2021/12/02 11:53:15 [error] 40#40: *42 limiting requests, excess: 5.428 by zone "z", client: ::1, server: , '
                   'request: "GET / HTTP/1.1", host: "la03.d.sb"\n')
    assert ingest(cli, db_path, log) == ("nginx-error", 1, 1, 0)
    assert fetch(db_path, "SELECT client_ip, status, path FROM requests") == [("::1", None, "/")]


def test_unknown_format_error_suggests_a_log_format(tmp_path, db_path, cli):
    log = tmp_path / "npm.log"
    line = '[10/Feb/2024:21:23:40 +0100] wings.example.com 192.168.1.101 0.002 "GET / HTTP/1.1" 401 77 935 - Uptime-Kuma/1.23\n'
    log.write_text(line * 3)
    result = cli("ingest", log, "--db", db_path)
    assert result.exit_code == 1 and "Traceback" not in result.output
    fmt = "[$time_local] $host $remote_addr $request_time \"$request\" $status $body_bytes_sent $bytes_sent $http_referer $http_user_agent"
    assert fmt in " ".join(result.output.split())
    assert ingest(cli, db_path, log, "--log-format", fmt) == ("nginx", 3, 3, 0)


@pytest.mark.skipif(not (SHARED / "crowdsec-hub-tests").is_dir(), reason="needs /work/shared/data (local only)")
def test_real_crowdsec_fixtures_account_for_every_line():
    import importlib.util

    from conftest import REPO

    spec = importlib.util.spec_from_file_location("check_real_logs", REPO / "scripts" / "check_real_logs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # The shapes that need more than plain combined; the full set is scripts/check_real_logs.py.
    rows = module.check(SHARED, only=("nginx_http-logs/", "apache2-logs/", "aws-alb-logs/", "nginx-http-malformed/",
                                      "nginx_req_limit_exceeded/", "nginx_http-catch-npm/"))
    assert rows and all(r["check"] == "ok" for r in rows), [r for r in rows if r["check"] != "ok"]
