"""The policy through the real CLI on real DuckDB files: ladder, merge, allowlists, escalation, expiry, determinism."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from decisions_helpers import (
    ATTACK_FINDINGS,
    DAY,
    benign_and_attack_lines,
    finding,
    insert_findings,
    load_json,
    window_of,
    write_log,
)
from gatewarden.emitters import EMITTERS

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "src/gatewarden/data/decisions.schema.json").read_text())


@pytest.fixture
def day_db(tmp_path, db_path, cli):
    log = write_log(tmp_path / "day1.jsonl", benign_and_attack_lines())
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    return db_path


def decide(cli, db_path, out, *extra, code=0):
    result = cli("decide", "--out", out, "--db", db_path, *extra)
    assert result.exit_code == code, result.output
    return result


def by_value(doc):
    return {d["value"]: d for d in doc["decisions"]}


def test_ladder_merge_and_contract(day_db, tmp_path, cli):
    insert_findings(day_db, ATTACK_FINDINGS)
    decide(cli, day_db, tmp_path / "out")
    doc = load_json(tmp_path / "out/decisions.json")
    jsonschema.validate(doc, SCHEMA)
    got = {(d["scope"], d["value"]): d["action"] for d in doc["decisions"]}
    assert got == {
        ("token", "key_leaked01"): "block",  # one high-severity finding
        ("cidr", "192.0.2.0/24"): "block",  # two independent medium detectors on all 10 addresses, nothing else in the /24
        ("fingerprint", "t13d_farm"): "challenge",  # one medium signal
    }  # key_user001 has only the supporting anomaly detector, the 2001:db8:1:2:: addresses only low hints: no decision
    v = by_value(doc)
    assert v["192.0.2.0/24"]["match"] == {"client_ip": "192.0.2.0/24"}
    assert {r["detector"] for r in v["192.0.2.0/24"]["reasons"]} == {"asn_automation", "burst"}
    assert v["key_leaked01"]["expires_at"] == "2026-11-22T00:00:00Z" and doc["generated_at"] == "2026-11-21T00:00:00Z"
    assert (tmp_path / "out/cidrs.txt").read_text() == "192.0.2.0/24\n"
    assert (tmp_path / "out/tokens.txt").read_text() == "key_leaked01\n"


def test_low_signals_throttle_when_configured_and_ipv6_is_judged_per_64(day_db, tmp_path, cli):
    insert_findings(day_db, ATTACK_FINDINGS)
    decide(cli, day_db, tmp_path / "out", "--config", _config(tmp_path, 'low_action = "throttle"'))
    v = by_value(load_json(tmp_path / "out/decisions.json"))
    assert v["2001:db8:1:2::/64"]["action"] == "throttle" and v["2001:db8:1:2::/64"]["match"] == {"client_ip": "2001:db8:1:2::/64"}
    assert v["2001:db8:1:2::/64"]["limit"]["per_s"] == 60 and v["2001:db8:1:2::/64"]["limit"]["requests"] >= 1


def test_one_medium_ip_is_not_merged_when_its_24_has_clean_traffic(day_db, tmp_path, cli):
    insert_findings(day_db, [finding("burst", "ip", f"198.51.100.{i}", {"client_ip": f"198.51.100.{i}"}, "medium") for i in range(10, 20)])
    decide(cli, day_db, tmp_path / "out", "--config", _config(tmp_path, "safety_max_clean_share = 1.0"))
    doc = load_json(tmp_path / "out/decisions.json")
    assert {d["scope"] for d in doc["decisions"]} == {"ip"} and len(doc["decisions"]) == 10


def test_allowlists_win_and_explain_says_why(day_db, tmp_path, cli):
    insert_findings(day_db, ATTACK_FINDINGS)
    cfg = _config(tmp_path, '[decisions.allowlist]\nips = ["192.0.2.0/28"]\ntokens = ["key_leaked01"]')
    decide(cli, day_db, tmp_path / "out", "--config", cfg)
    values = set(by_value(load_json(tmp_path / "out/decisions.json")))
    assert "key_leaked01" not in values and "192.0.2.0/24" not in values and not any(v.startswith("192.0.2.") for v in values)
    text = cli("explain", "key_leaked01", "--db", day_db).output
    assert "ALLOWLISTED block token key_leaked01" in text and "allowlisted token" in text
    ip_text = cli("explain", "192.0.2.3", "--db", day_db).output
    assert "ALLOWLISTED" in ip_text and "192.0.2.0/28" in ip_text


def test_verified_crawler_needs_both_user_agent_and_network(tmp_path, db_path, cli):
    lines = benign_and_attack_lines()
    lines += [{"ts": (DAY + timedelta(minutes=k)).isoformat() + "Z", "client_ip": ip, "path": "/docs", "user_agent": "Googlebot/2.1"}
              for k in range(5) for ip in ("66.249.66.1", "203.0.113.200")]
    assert cli("ingest", write_log(tmp_path / "c.jsonl", lines), "--db", db_path).exit_code == 0
    insert_findings(db_path, [finding("burst", "ip", ip, {"client_ip": ip}, "high") for ip in ("66.249.66.1", "203.0.113.200")])
    cfg = _config(tmp_path, '[[decisions.allowlist.crawlers]]\nname = "googlebot"\nuser_agent = "googlebot"\ncidrs = ["66.249.64.0/19"]')
    decide(cli, db_path, tmp_path / "out", "--config", cfg)
    assert set(by_value(load_json(tmp_path / "out/decisions.json"))) == {"203.0.113.200"}  # claims Googlebot, wrong network


def test_repeat_offender_escalates_active_decisions_carry_over_then_expire(tmp_path, db_path, cli):
    days = [DAY + timedelta(days=i) for i in range(4)]
    for i, day in enumerate(days):
        assert cli("ingest", write_log(tmp_path / f"d{i}.jsonl", benign_and_attack_lines(day)), "--db", db_path).exit_code == 0
    token = finding("token_ip_fanout", "token", "key_leaked01", {"token": "key_leaked01"}, "high", "distinct_ips", 50, 4)
    insert_findings(db_path, [token], window_of(days[0]))
    decide(cli, db_path, tmp_path / "out")
    insert_findings(db_path, [token], window_of(days[1]))
    decide(cli, db_path, tmp_path / "out")
    second = by_value(load_json(tmp_path / "out/decisions.json"))["key_leaked01"]
    assert second["offence_count"] == 2 and second["ttl_s"] == 2 * 86400  # TTL x escalation_factor
    assert "escalated" in cli("diff", "--db", db_path).output
    insert_findings(db_path, [], window_of(days[2]))  # clean day: the 2-day decision is still active, re-issued unchanged
    decide(cli, db_path, tmp_path / "out")
    third = by_value(load_json(tmp_path / "out/decisions.json"))["key_leaked01"]
    assert third["id"] == second["id"] and third["expires_at"] == second["expires_at"]
    insert_findings(db_path, [], window_of(days[3]))  # past its expiry: dropped, and the feed says deleted
    decide(cli, db_path, tmp_path / "out")
    assert load_json(tmp_path / "out/decisions.json")["decisions"] == []
    feed = [json.loads(x) for x in (tmp_path / "out/decisions.jsonl").read_text().splitlines()]
    assert feed == [{"type": "deleted", "id": second["id"], "scope": "token", "value": "key_leaked01"}]
    changes = json.loads(cli("diff", "--json", "--db", db_path).output)
    assert [c["value"] for c in changes["removed"]] == ["key_leaked01"]


def test_same_input_and_config_give_byte_identical_files(day_db, tmp_path, cli):
    insert_findings(day_db, ATTACK_FINDINGS)
    decide(cli, day_db, tmp_path / "a")
    decide(cli, day_db, tmp_path / "b")
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert len(files_a) >= 2 + len(EMITTERS)
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert not [p for p in (tmp_path / "a").rglob(".*") if p.is_file()]  # no temp files left behind


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / f"cfg{abs(hash(body))}.toml"
    path.write_text("[decisions]\n" + body + "\n" if not body.startswith("[") else body + "\n")
    return path


def test_rate_limits_come_from_clean_callers_with_backtest(day_db, tmp_path, cli):
    insert_findings(day_db, ATTACK_FINDINGS)
    decide(cli, day_db, tmp_path / "out")
    limits = load_json(tmp_path / "out/rate_limits.json")["limits"]
    overall = {(r["key"], r["window_s"]): r for r in limits if r["endpoint"] == "*"}
    assert {("token", 60), ("ip", 60), ("token", 86400)} <= set(overall)
    assert ("fingerprint", 60) not in overall  # 3 clean JA4s: below rate_limit_min_entities, no guess
    day = overall[("token", 86400)]
    # 40 established callers x 20 requests a day: key_user001's anomaly finding is supporting evidence, not an accusation,
    # so it stays in the legitimate population; the farm's tokens are not established.
    assert day["entities"] == 40 and day["p99"] == 20 and day["limit"] == 40 and day["confidence"] == "medium"
    assert day["backtest"]["legit_requests_throttled"] == 0 and day["backtest"]["legit_entities_throttled"] == 0
    assert day["backtest"]["limit"] == day["limit"]  # measured at the published (smoothed) limit
    assert ("token", 60) in {(r["key"], r["window_s"]) for r in limits if r["endpoint"] == "/v1/chat/completions"}
