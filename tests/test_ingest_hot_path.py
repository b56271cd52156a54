"""The ingest hot path's shortcuts give exactly what the plain forms give."""

from __future__ import annotations

import gzip
import random

import duckdb
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewarden.parsers.base import sql_str
from gatewarden.parsers.common import REQUEST_LINE, regex_struct, request_line_struct
from gatewarden.parsers.logformat import VARIABLE, compile_log_format, nginx_text
from gatewarden.secrets import _BEARER_ANYWHERE, _JWT_ANYWHERE, _SECRET_PARAMS, _SK_ANYWHERE, redact_sql
from gatewarden.sources import ContentDigest, ReadProblem, content_hash, prefetched, read_line_batches

FRAGMENTS = ["/v1/chat", "?", "&", "=", "token=", "api_key=", "KEY=", "eyJhbGciOi", ".eyJzdWIi", ".sig", "sk-",
             "abcdefghijklmnopqrstuvwxyz", "Bearer ", "BASIC ", "bearer", " ", "#", "é", "%20", "-", "_", "0123456789"]


def _unfiltered(expr: str) -> str:
    out = f"regexp_replace({expr}, '{_JWT_ANYWHERE}', 'REDACTED_JWT', 'g')"
    out = f"regexp_replace({out}, '{_SECRET_PARAMS}', '\\1REDACTED', 'gi')"
    out = f"regexp_replace({out}, '{_SK_ANYWHERE}', 'REDACTED', 'g')"
    return f"regexp_replace({out}, '{_BEARER_ANYWHERE}', '\\1REDACTED', 'g')"


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    yield c
    c.close()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=12).map("".join))
def test_redaction_prefilter_changes_nothing(con, text):
    fast, plain = con.execute(f"SELECT {redact_sql('$1')}, {_unfiltered('$1')}", [text]).fetchall()[0]
    assert fast == plain


def test_redaction_still_redacts(con):
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl"
    got = con.execute(f"SELECT {redact_sql('$1')}", [f"/reset?token={jwt}&x=1 Bearer abcdefghijk sk-{'a' * 20}"]).fetchall()
    assert jwt not in got[0][0] and "abcdefghijk" not in got[0][0] and "sk-aaaa" not in got[0][0]
    assert con.execute(f"SELECT {redact_sql('NULL::VARCHAR')}").fetchall() == [(None,)]


def test_prefetched_keeps_order_and_raises_where_the_source_did():
    def source():
        yield from range(5)
        raise ValueError("damaged")

    seen = []
    with pytest.raises(ValueError, match="damaged"):
        for item in prefetched(source()):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


def test_prefetched_consumer_can_stop_early():
    produced = []

    def source():
        for i in range(1000):
            produced.append(i)
            yield i

    for item in prefetched(source()):
        if item == 2:
            break
    assert len(produced) < 10  # the reader stopped instead of running ahead through the whole file


LINE_BYTES = [b"a", b"GET /v1", b"\n", b"\r", b"\r\n", b"\xff", b"\xc3\xa9", b"\xc3", b" ", b"\x00", b"x" * 40]


def _reference_lines(data: bytes) -> list[tuple[int, str]]:
    """What the reader promises, the slow way: split on \\n, escape non-UTF-8 bytes, drop trailing \\r."""
    if not data:
        return []
    parts = data.split(b"\n")
    if data.endswith(b"\n"):
        parts.pop()
    return [(n, p.decode("utf-8", errors="backslashreplace").rstrip("\r")) for n, p in enumerate(parts, start=1)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(LINE_BYTES), max_size=80).map(b"".join), st.integers(min_value=1, max_value=64))
def test_line_batches_are_the_plain_split_whatever_the_chunk_size(tmp_path_factory, data, chunk_bytes):
    # Through the prefetching thread, as ingest reads: the reader refills its buffer while the previous
    # batch is still held, so a batch that pointed into the buffer would change under its consumer.
    path = tmp_path_factory.mktemp("lines") / "access.log"
    path.write_bytes(data)
    problems: list[ReadProblem] = []
    digest = ContentDigest()
    batches = list(prefetched(read_line_batches(path, chunk_bytes, problems, digest)))
    got = [row for b in batches for row in zip(b.table.column("source_line").to_pylist(),
                                                 b.table.column("line").to_pylist(), strict=True)]
    assert got == _reference_lines(data)
    assert problems == []
    assert digest.text() == content_hash(path)


@pytest.mark.parametrize("pack", ["gzip", "zstd", "damaged gzip"])
def test_the_digest_taken_while_reading_is_the_files_content_hash(tmp_path, pack):
    # A new file is hashed from the bytes ingest reads; the next run hashes it up front to see it is unchanged.
    noise = random.Random(7).randbytes(20_000 * 16).hex().encode()  # ~700 KB compressed: read in many pieces
    lines = b"".join(b'10.0.0.%d - - [20/Nov/2026:10:00:00 +0000] "GET /%s HTTP/1.1" 200 1 "-" "ua"\n'
                     % (i % 250, noise[i * 32 : (i + 1) * 32]) for i in range(20_000))
    data = zstandard.ZstdCompressor().compress(lines) if pack == "zstd" else gzip.compress(lines)
    path = tmp_path / "access.log.gz"
    if pack == "damaged gzip":  # the reader stops at the damage; the digest still covers the bytes after it
        data = data[: len(data) // 3] + bytes(4096) + data[len(data) // 3 + 4096 :]
    path.write_bytes(data)
    problems: list[ReadProblem] = []
    digest = ContentDigest()
    read = sum(b.table.num_rows for b in read_line_batches(path, 1 << 16, problems, digest))
    assert read > 1000 and (len(problems) == 1) == (pack == "damaged gzip")
    assert digest.text() == content_hash(path)


REQUEST_PARTS = ["GET", "POST", "M-1", " ", "  ", "/v1/x", "HTTP/1.1", "A/1", "a", "\t", "\r", "?q=1", "HTTP/", "/", "é",
                 "x y"]


SHAPED_REQUEST = st.tuples(st.sampled_from(["GET", "M-1", "get", ""]), st.sampled_from([" ", "  ", "\t", ""]),
                           st.sampled_from(["/v1/x", "A/1", "x y", "é", ""]), st.sampled_from([" ", "  ", ""]),
                           st.sampled_from(["HTTP/1.1", "A/1", "HTTP/", ""])).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(SHAPED_REQUEST, st.lists(st.sampled_from(REQUEST_PARTS), max_size=8).map("".join)))
def test_request_line_shortcut_captures_what_the_regex_captures(con, line):
    shortcut = con.execute(f"SELECT {request_line_struct('$1')}", [line]).fetchone()[0]
    regex = con.execute(f"SELECT regexp_extract($1, {sql_str(REQUEST_LINE)}, ['m', 'p', 'v'])", [line]).fetchone()[0]
    assert shortcut == regex


PLAIN_FORMATS = [
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
    '"$http_user_agent" $request_time "$http_x_api_key" "$http_x_ja4" "$cookie_session"',
    '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D',
    '[$time_local] <$request_id> $remote_addr "$request" $status rt=$request_time $msec',
]
VALUES = {  # plain values of the variables with a shape; any other takes PLAIN_VALUES
    "time_local": ["20/Nov/2026:01:00:00 +0100", "1/Jan/2026:23:59:59 -0500"], "status": ["200", "-"],
    "msec": ["1732060800.123", "17"], "request_time": ["0.5", "-", "12"], "body_bytes_sent": ["0", "24", "-"],
}
PLAIN_VALUES = ["", "-", "a", "é", "0.5", "[x]"]
TRICKY_VALUES = ["a b", '"', '\\"', "]", ">", "\\x22", "  ", "GET /v1/x HTTP/1.1", "x\\", "2000", "1 2",
                 "20/Nov/2026:01:00:00"]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PLAIN_FORMATS), st.data())
def test_log_format_shortcut_captures_what_the_regex_captures(con, text, data):
    compiled = compile_log_format(text)
    assert compiled.plain is not None
    pieces = VARIABLE.split(nginx_text(text))
    names = [a or b for a, b in zip(pieces[1::3], pieces[2::3], strict=True)]
    plain = [data.draw(st.sampled_from(VALUES.get(name, PLAIN_VALUES)), name) for name in names]

    def line(values: list[str], doubled: int = -1) -> str:
        return pieces[0] + "".join(value + pieces[3 * n + 3].replace(" ", "  " if n == doubled else " ", 1)
                                   for n, value in enumerate(values))

    # The plain line, then each value made tricky in turn and each separator doubled: where a shortcut goes wrong.
    lines = [line(plain)] + [line(plain, n) for n in range(len(names))]
    lines += [line(plain[:n] + [tricky] + plain[n + 1:]) for n in range(len(names)) for tricky in TRICKY_VALUES]
    cols = [f"v{i}" for i in range(len(compiled.variables))]
    split = ", ".join(f"{n} := {v}" for n, v in zip(cols, ("line", *compiled.plain.values), strict=True))
    rows = con.execute(
        f"SELECT line, regexp_full_match(line, {sql_str(compiled.plain.pattern)}), struct_pack({split}), "
        f"{regex_struct('line', compiled.pattern, cols)} FROM (SELECT line, string_split(line, '\"') AS parts "
        f"FROM unnest($1::VARCHAR[]) AS t(line))", [lines]).fetchall()
    for text_line, is_plain, shortcut, regex in rows:
        if is_plain:
            assert shortcut == regex, text_line


def test_log_format_shortcut_takes_plain_lines_and_only_plannable_formats(con):
    compiled = compile_log_format(PLAIN_FORMATS[0])
    line = ('10.0.0.1 - - [20/Nov/2026:01:00:00 +0100] "GET /v1/models HTTP/1.1" 200 24 "-" "curl/8.5.0" 0.5 '
            '"key_1" "t13d" "sess1"')
    plain, v3 = con.execute(f"SELECT regexp_full_match($1, {sql_str(compiled.plain.pattern)}), "
                            f"{compiled.plain.values[2]} FROM (SELECT string_split($1, '\"') AS parts)",
                            [line]).fetchone()
    assert plain and v3 == "20/Nov/2026:01:00:00 +0100"
    assert compile_log_format('$host:$server_port "$request" [$time_local]').plain is None  # two values, one piece
    assert compile_log_format('$remote_addr "$request $status" [$time_local]').plain is None  # two in quotes
