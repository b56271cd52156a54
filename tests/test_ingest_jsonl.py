"""Canonical JSONL through the real CLI into a real DuckDB file."""

from __future__ import annotations

import json

import duckdb

from conftest import fetch

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyMSIsImV4cCI6MTYwMDAwMDAwMH0.c2ln"
LINES = [
    {"ts": "2026-11-20T10:00:00Z", "client_ip": "1.2.3.4", "method": "post", "path": "/v1/chats/123/messages?stream=1",
     "status": 200, "token": "key_3f9a11", "user_agent": "sdk/1.0"},
    {"ts": 1763632800, "client_ip": "::ffff:5.6.7.8", "path": "/v1/images/550e8400-e29b-41d4-a716-446655440000",
     "status": "429", "token": "Bearer sk-abcdefghijklmnopqrstuvwxyz"},
    {"ts": 1763632800123, "client_ip": "2001:db8::1", "path": f"/reset?token={JWT}", "token": JWT},
    {"ts": "10/Oct/2000:13:55:36 -0700", "client_ip": "[2001:db8::2]:443", "unknown_field": 1},
]


def write_jsonl(path, records, extra_lines=()):
    path.write_text("\n".join([json.dumps(r) for r in records] + list(extra_lines)) + "\n")
    return path


def test_canonical_jsonl_lands_with_counts_and_no_secrets(tmp_path, db_path, cli):
    log = write_jsonl(tmp_path / "a.jsonl", LINES, ["not json", "", '{"client_ip": "1.1.1.1"}'])
    result = cli("ingest", log, "--db", db_path, "--max-reject-ratio", "1")
    assert result.exit_code == 0, result.output
    assert fetch(db_path, "SELECT count(*) FROM requests") == [(4,)]
    reasons = fetch(db_path, "SELECT source_line, reason FROM rejects ORDER BY 1")
    assert reasons == [(5, "not a JSON object"), (6, "empty line"), (7, "timestamp missing or not understood")]
    rows = dict(fetch(db_path, "SELECT source_line, struct_pack(ip := client_ip, tok := token, ep := endpoint) "
                                "FROM requests"))
    assert rows[1] == {"ip": "1.2.3.4", "tok": "key_3f9a11", "ep": "/v1/chats/{id}/messages"}
    assert rows[2]["ip"] == "5.6.7.8" and rows[2]["tok"].startswith("h:") and rows[2]["ep"] == "/v1/images/{id}"
    assert rows[3]["tok"] == "jwt:user1" and rows[3]["ip"] == "2001:db8::1"
    assert rows[4]["ip"] == "2001:db8::2"
    dump = " ".join(str(r) for r in fetch(db_path, "SELECT * FROM requests") + fetch(db_path, "SELECT * FROM rejects"))
    assert "sk-abcdefghijklmnop" not in dump and JWT not in dump


def test_four_timestamp_forms_agree(tmp_path, db_path, cli):
    forms = ["2026-11-20T10:00:00Z", "2026-11-20T12:00:00+02:00", 1795168800, 1795168800000, "1795168800.0", "20/Nov/2026:10:00:00 +0000"]
    log = write_jsonl(tmp_path / "t.jsonl", [{"ts": f, "client_ip": "10.0.0.1"} for f in forms])
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    assert fetch(db_path, "SELECT DISTINCT CAST(ts AS VARCHAR) FROM requests") == [("2026-11-20 10:00:00",)]


def test_reingest_is_noop_and_growth_replaces(tmp_path, db_path, cli):
    log = write_jsonl(tmp_path / "a.jsonl", LINES)
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    assert fetch(db_path, "SELECT count(*) FROM requests") == [(4,)]
    write_jsonl(log, LINES + LINES[:1])
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    assert fetch(db_path, "SELECT count(*) FROM requests") == [(5,)]


def test_raw_secret_without_key_is_one_clear_error(tmp_path, db_path, cli, monkeypatch):
    monkeypatch.delenv("GATEWARDEN_TOKEN_KEY")
    log = write_jsonl(tmp_path / "a.jsonl", LINES)
    result = cli("ingest", log, "--db", db_path)
    assert result.exit_code == 2
    assert "GATEWARDEN_TOKEN_KEY" in result.output and "Traceback" not in result.output
    assert fetch(db_path, "SELECT count(*) FROM requests") == [(0,)]


def test_mostly_garbage_file_is_refused_naming_the_line(tmp_path, db_path, cli):
    log = tmp_path / "junk.jsonl"
    log.write_text('{"ts": 1763632800}\n' + "garbage\n" * 5)
    result = cli("ingest", log, "--db", db_path, "--format", "jsonl")
    assert result.exit_code == 1
    assert "junk.jsonl" in result.output and "first bad line 2" in result.output


def test_blank_lines_are_counted_but_do_not_make_a_file_look_wrong(tmp_path, db_path, cli):
    log = tmp_path / "gappy.jsonl"
    log.write_text('{"ts": 1795168800}\n\n\n{"ts": 1795168801}\n\n')
    result = cli("ingest", log, "--db", db_path)
    assert result.exit_code == 0, result.output
    assert fetch(db_path, "SELECT count(*), count(*) FILTER (reason = 'empty line') FROM rejects") == [(3, 3)]
    assert fetch(db_path, "SELECT lines, accepted, rejected FROM ingested_files") == [(5, 2, 3)]


def test_a_refused_file_leaves_nothing_and_a_crashed_one_is_reloaded_whole(tmp_path, db_path, cli):
    good = write_jsonl(tmp_path / "good.jsonl", LINES)
    assert cli("ingest", good, "--db", db_path).exit_code == 0
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"ts": 1795168800}\n' + "garbage\n" * 5)
    assert cli("ingest", junk, "--db", db_path, "--format", "jsonl").exit_code == 1
    assert fetch(db_path, "SELECT count(*) FROM requests WHERE source_file LIKE '%junk.jsonl'") == [(0,)]
    assert fetch(db_path, "SELECT count(*) FROM rejects WHERE source_file LIKE '%junk.jsonl'") == [(0,)]
    # A run killed mid-file leaves rows but no ingested_files record: the next run loads the file again, whole.
    con = duckdb.connect(str(db_path))
    con.execute("DELETE FROM ingested_files")
    con.execute("DELETE FROM requests WHERE source_line > 2")
    con.close()
    assert cli("ingest", good, "--db", db_path).exit_code == 0
    assert fetch(db_path, "SELECT count(*), count(DISTINCT source_line) FROM requests") == [(4, 4)]
