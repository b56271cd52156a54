"""The shared per-request features of `win`, built from a real JSONL day in a real DuckDB file."""

from __future__ import annotations

import json
from datetime import timedelta

import duckdb

from featurekit import CHROME, DAY, SDK, ingest, minutes, req, run, write_day
from gatewarden.analyze import analyze, resolve_window
from gatewarden.config import load_config
from gatewarden.db import connect, dicts
from gatewarden.detectors.sqlparts import ENTITY_KEYS


def test_window_features(tmp_path, db_path, cli):
    records = []
    # A browser user: page assets, a session cookie, irregular timing.
    for i, gap in enumerate([0, 1, 3, 4, 9, 50, 51, 55]):
        path = "/static/app.js" if i % 3 == 0 else "/v1/chat/completions"
        records.append(req(DAY + minutes(gap), client_ip="81.2.69.142", token="key_browser1", session_id="sess1",
                           user_agent=CHROME.format(v=120), path=path, ja4="t13d1516h2_aaa", accept_language="en-GB"))
    # A script: python-requests on a metronome from an IPv6 address, no token.
    for i in range(10):
        records.append(req(DAY + minutes(60 + i), client_ip="2001:db8:1:2::7", user_agent="python-requests/2.31",
                           duration_ms=None))
    # The CDN's bot score wins over gatewarden's own evidence where present.
    records.append(req(DAY + minutes(200), client_ip="81.2.69.9", token="key_sdk1", user_agent=SDK.format(v=3), bot_score=12,
                       duration_ms=4000.0))
    ingest(cli, db_path, write_day(tmp_path / "day.jsonl", records))
    con = run(db_path, detectors=[])
    rows = {r["request_id"]: r for r in dicts(con, "SELECT * FROM win")}
    assert len(rows) == len(records)
    browser = [r for r in rows.values() if r["token"] == "key_browser1"]
    script = [r for r in rows.values() if r["client_ip"] == "2001:db8:1:2::7"]
    scored = next(r for r in rows.values() if r["token"] == "key_sdk1")

    assert {(r["ua_family"], r["ua_major"], r["ua_class"]) for r in browser} == {("chrome", 120, "browser")}
    assert {(r["ua_family"], r["ua_class"]) for r in script} == {("python-requests", "automation")}
    assert scored["ua_class"] == "sdk"
    assert {r["net"] for r in browser} == {"81.2.69.0/24"} and {r["net"] for r in script} == {"2001:db8:1:2::/64"}
    assert sum(r["is_static"] for r in browser) == 3 and not any(r["is_static"] for r in script)
    assert len({r["fingerprint"] for r in browser}) == 1 and browser[0]["fingerprint"].startswith("fp:")
    assert browser[0]["fingerprint"] != script[0]["fingerprint"]
    # 30 minutes of silence split the browser's cookie session in two; the script's run is one session.
    assert len({r["session"] for r in browser}) == 2 and len({r["session"] for r in script}) == 1
    assert all(r["automated"] == 0 for r in browser)
    assert all(r["automated"] >= 0.9 for r in script)
    assert scored["automated"] == 1.0
    # Cost: duration-based estimate, a floor for unknown duration, nothing for cached assets.
    assert scored["cost"] > max(r["cost"] for r in script) > 0
    assert all(r["cost"] == 0 for r in browser if r["is_static"])
    assert not any(r["is_hosting"] for r in rows.values())
    con.close()


def test_endpoint_cost_and_hosting_config(tmp_path, db_path, cli):
    records = [req(DAY + minutes(i), client_ip="3.3.3.3", asn=16509, token="key_x", user_agent="curl/8") for i in range(3)]
    ingest(cli, db_path, write_day(tmp_path / "d.jsonl", records))
    config = tmp_path / "gw.toml"
    config.write_text('[enrich]\nhosting_asns_extra = [16509]\n[detectors.cost]\nper_endpoint = {"/v1/chat/completions" = 0.25}\n')
    cfg = load_config(config)
    cfg = cfg.model_copy(update={"database": cfg.database.model_copy(update={"path": db_path})})
    con = connect(cfg.database)
    analyze(con, cfg, resolve_window(con, timedelta(hours=24), None), [])
    assert dicts(con, "SELECT DISTINCT cost, is_hosting FROM win") == [{"cost": 0.25, "is_hosting": True}]
    con.close()


def test_fingerprint_match_breaks_ties_the_same_way_every_run():
    # An entity whose requests split evenly between two user agents: unordered mode() picked whichever value a
    # thread's partial count brought first (here "b"), so a rule's match could change between identical runs.
    con = duckdb.connect()
    match = ENTITY_KEYS["fingerprint"][1]
    got = con.execute(f"SELECT {match} FROM (VALUES ('t13', NULL, 'b', 'en'), ('t13', NULL, 'a', 'en'), "
                      "('t13', NULL, 'b', 'de'), ('t13', NULL, 'a', 'de')) t(ja4, ja3, user_agent, accept_language)").fetchone()
    assert json.loads(got[0]) == {"ja4": "t13", "user_agent": "a", "accept_language": "de"}
