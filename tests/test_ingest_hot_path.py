"""The ingest hot path's shortcuts give exactly what the plain forms give."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewarden.secrets import _BEARER_ANYWHERE, _JWT_ANYWHERE, _SECRET_PARAMS, _SK_ANYWHERE, redact_sql
from gatewarden.sources import prefetched

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
