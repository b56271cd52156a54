"""The ingest hot path's shortcuts give exactly what the plain forms give."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewarden.parsers.base import sql_str
from gatewarden.parsers.common import REQUEST_LINE, request_line_struct
from gatewarden.secrets import _BEARER_ANYWHERE, _JWT_ANYWHERE, _SECRET_PARAMS, _SK_ANYWHERE, redact_sql
from gatewarden.sources import ReadProblem, prefetched, read_line_batches

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
    batches = list(prefetched(read_line_batches(path, chunk_bytes, problems)))
    got = [row for b in batches for row in zip(b.table.column("source_line").to_pylist(),
                                                 b.table.column("line").to_pylist(), strict=True)]
    assert got == _reference_lines(data)
    assert problems == []


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
