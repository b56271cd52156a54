"""Endpoint templates (built-in id rules, OpenAPI), CIDR helpers and the gw_net macro."""

from __future__ import annotations

import ipaddress
import json
import uuid
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewarden.config import DatabaseConfig
from gatewarden.db import connect, rows
from gatewarden.enrich.cidr import cidr_range, collapse, net_key, range_to_cidrs
from gatewarden.enrich.endpoints import endpoint_sql
from gatewarden.enrich.ip import ip_to_num
from gatewarden.enrich.openapi import load_openapi, match_template

WORDS = ["v1", "v2", "chat", "completions", "gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "embeddings", "models",
         "messages", "threads", "runs", "files", "audio", "transcriptions", "claude-3-5-sonnet-20241022", "graphql", "login",
         "api", "batches", "fine_tuning", "text_embedding",
         "user_settings", "jobs", "moderations", "wp-login.php", "index.html", "o1-preview", "dall-e-3"]
B62 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

ids = st.one_of(
    st.integers(min_value=0, max_value=10**12).map(str),
    st.uuids().map(str),
    st.text("0123456789abcdef", min_size=12, max_size=40).filter(lambda s: any(c.isdigit() for c in s)),
    st.tuples(st.text(B62, min_size=14, max_size=30), st.sampled_from("0123456789"), st.sampled_from("abcXYZ"))
      .map(lambda t: t[0] + t[1] + t[2]),
    st.tuples(st.sampled_from(["chat", "msg", "file", "run", "thread", "asst", "batch"]), st.text(B62, min_size=7, max_size=24),
              st.sampled_from("0123456789")).map(lambda t: f"{t[0]}_{t[1]}{t[2]}"),
    st.text(B62, min_size=12, max_size=24).map(lambda body: f"chat_{body}"),
    st.tuples(st.text(B62, min_size=11, max_size=24), st.sampled_from("0123456789")).map(lambda t: f"chatcmpl-{t[0]}{t[1]}"),
)


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    yield c
    c.close()


def _endpoint(con, path: str, **kw) -> str:
    return con.execute(f"SELECT {endpoint_sql('p', **kw)} FROM (SELECT CAST(? AS VARCHAR) AS p)", [path]).fetchall()[0][0]


@settings(max_examples=150, deadline=None)
@given(word=st.sampled_from(WORDS), ident=ids)
def test_id_segments_collapse_words_never_do(con, word: str, ident: str) -> None:
    assert _endpoint(con, f"/v1/{word}/{ident}/x?limit=5") == f"/v1/{word}/{{id}}/x"


def test_words_stay(con) -> None:
    for word in WORDS:
        assert _endpoint(con, f"/{word}") == f"/{word}", word
    assert _endpoint(con, None) is None


def test_openapi_templates_win_most_specific_first(con, tmp_path: Path) -> None:
    spec = {"openapi": "3.0.0", "servers": [{"url": "https://api.example.com/v1"}], "paths": {
        "/chats/{chat_id}": {"get": {"parameters": [{"name": "expand", "in": "query"}]}, "delete": {}},
        "/chats/search": {"get": {"parameters": [{"$ref": "#/components/parameters/q"}]}},
        "/chats/{chat_id}/messages": {"parameters": [{"name": "limit", "in": "query"}], "post": {}, "get": {}}},
        "components": {"parameters": {"q": {"name": "q", "in": "query"}}}}
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    specs = load_openapi(path)
    order = [s.template for s in specs]
    assert order.index("/v1/chats/search") < order.index("/v1/chats/{chat_id}")
    by = {s.template: s for s in specs}
    assert by["/v1/chats/{chat_id}"].methods == {"GET", "DELETE"}
    assert by["/v1/chats/{chat_id}"].operations["GET"].query_params == {"expand"}
    assert by["/v1/chats/search"].operations["GET"].query_params == {"q"}
    assert by["/v1/chats/{chat_id}/messages"].operations["POST"].query_params == {"limit"}
    assert match_template(specs, "/v1/chats/abc/messages?x=1").template == "/v1/chats/{chat_id}/messages"
    assert _endpoint(con, "/v1/chats/search?q=1", openapi=path) == "/v1/chats/search"
    assert _endpoint(con, "/v1/chats/hello/messages", openapi=path) == "/v1/chats/{chat_id}/messages"
    assert _endpoint(con, f"/v1/files/{uuid.uuid4()}", openapi=path) == "/v1/files/{id}"  # not in spec: built-in rules


def test_openapi_yaml_through_ingest(cli, db_path: Path, tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text("openapi: 3.0.0\npaths:\n  /v1/chats/{chat_id}/messages:\n    post: {}\n", encoding="utf-8")
    (tmp_path / "gw.toml").write_text(f'[endpoints]\nopenapi = "{tmp_path / "api.yaml"}"\n', encoding="utf-8")
    log = tmp_path / "r.jsonl"
    log.write_text('{"ts": "2024-05-01T00:00:00Z", "client_ip": "1.2.3.4", "method": "POST", "path": "/v1/chats/general/messages"}\n',
                   encoding="utf-8")
    assert cli("ingest", log, "--db", db_path, "--config", tmp_path / "gw.toml", "--format", "jsonl").exit_code == 0
    con = connect(DatabaseConfig(path=db_path))
    assert rows(con, "SELECT endpoint FROM requests") == [("/v1/chats/{chat_id}/messages",)]
    con.close()


def test_cidr_helpers() -> None:
    assert cidr_range("1.2.3.0/24") == (ip_to_num("1.2.3.0"), ip_to_num("1.2.3.255"))
    assert cidr_range("::ffff:1.2.3.4") == (ip_to_num("1.2.3.4"),) * 2
    assert cidr_range("2001:db8::/127") == (ip_to_num("2001:db8::"), ip_to_num("2001:db8::1"))
    assert cidr_range("nope") is None
    assert collapse(["1.2.3.0/25", "1.2.3.128/25", "1.2.3.7", "2001:db8::1", "2001:db8::/64", "junk"]) == ["1.2.3.0/24", "2001:db8::/64"]
    assert range_to_cidrs(ip_to_num("10.0.0.0"), ip_to_num("10.0.2.255")) == ["10.0.0.0/23", "10.0.2.0/24"]
    assert net_key("2001:db8:1:2:3::9") == "2001:db8:1:2::/64" and net_key("8.8.8.8") == "8.8.8.0/24"


@settings(max_examples=200, deadline=None)
@given(addr=st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)))
def test_gw_net_matches_python(db_path_module, addr) -> None:
    text = str(addr.ipv4_mapped) if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped else str(addr)
    num = ip_to_num(text)
    sql_two, sql_one = db_path_module.execute("SELECT gw_net(?, CAST(? AS UHUGEINT)), gw_net(?)", [text, str(num), text]).fetchall()[0]
    assert sql_two == net_key(text)
    assert sql_one == net_key(text)


@pytest.fixture(scope="module")
def db_path_module(tmp_path_factory):
    c = connect(DatabaseConfig(path=tmp_path_factory.mktemp("net") / "gw.duckdb"))
    yield c
    c.close()
