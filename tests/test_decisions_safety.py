"""The safety valve: decisions that would stop too much clean traffic write nothing, keep the old files, exit 3."""

from __future__ import annotations

import json
import re

import duckdb
import pytest

from conftest import SAMPLE_LOGS
from decisions_helpers import ATTACK_FINDINGS, benign_and_attack_lines, finding, insert_findings, write_log

NAT_IPS = ("155.201.34.204", "155.201.35.209")  # sample_logs' benign_corporate_nat (labels-2026-11-20.csv.gz)


def test_valve_trips_keeps_previous_files_and_says_why(tmp_path, db_path, cli):
    assert cli("ingest", write_log(tmp_path / "a.jsonl", benign_and_attack_lines()), "--db", db_path).exit_code == 0
    insert_findings(db_path, ATTACK_FINDINGS)
    out = tmp_path / "out"
    assert cli("decide", "--out", out, "--db", db_path).exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert cli("report", "--out", tmp_path / "r1", "--db", db_path, "-q").exit_code == 0
    assert "Safety valve" not in (tmp_path / "r1/summary.md").read_text()
    # A detector gone wrong: a common fingerprint shared by a third of the clean callers, flagged high.
    insert_findings(db_path, [*ATTACK_FINDINGS, finding("fingerprint_quota", "fingerprint", "t13d_clean1", {"ja4": "t13d_clean1"},
                                                        "high", requests=1)])
    cfg = tmp_path / "wide.toml"
    cfg.write_text("[decisions]\nnarrow_broad = false\n")  # act on the whole fingerprint: only the valve stands in the way
    result = cli("decide", "--out", out, "--db", db_path, "--config", cfg)
    assert result.exit_code == 3, result.output
    assert "Safety valve" in result.output and "fingerprint t13d_clean1" in result.output and "Nothing was written" in result.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    con = duckdb.connect(str(db_path), read_only=True)
    outcomes = con.execute("SELECT outcome FROM decision_runs ORDER BY started_at").fetchall()
    con.close()
    assert [o for (o,) in outcomes] == ["written", "safety_valve"]
    # The night's report says what was held back and why, not merely that there are no new decisions.
    assert cli("report", "--out", tmp_path / "r2", "--db", db_path, "--config", cfg, "-q").exit_code == 0
    valve = json.loads((tmp_path / "r2/summary.json").read_text())["totals"]["safety_valve"]
    assert valve["decisions"] >= 1 and valve["clean_requests_hit"] > 0 and valve["clean_share"] > valve["limit"] == 0.01
    assert f"would have stopped {valve['clean_requests_hit']:,} legitimate-looking requests" in (tmp_path / "r2/summary.md").read_text()
    assert "Safety valve: tonight" in (tmp_path / "r2/report.html").read_text()


def test_narrowing_keeps_a_broad_decision_off_clean_callers(tmp_path, db_path, cli):
    assert cli("ingest", write_log(tmp_path / "a.jsonl", benign_and_attack_lines()), "--db", db_path).exit_code == 0
    insert_findings(db_path, [finding("fingerprint_quota", "fingerprint", "t13d_clean1", {"ja4": "t13d_clean1"}, "high")])
    assert cli("decide", "--out", tmp_path / "out", "--db", db_path).exit_code == 0
    assert (tmp_path / "out/decisions.json").read_text().count('"id"') == 0
    assert "stops legitimate-looking traffic in every network" in cli("explain", "t13d_clean1", "--db", db_path).output


@pytest.mark.skipif(not (SAMPLE_LOGS / "requests-2026-11-20.jsonl.gz").exists(), reason="sample_logs not generated")
def test_valve_trips_on_a_night_that_would_block_a_corporate_nat(tmp_path, db_path, cli):
    assert cli("ingest", SAMPLE_LOGS / "requests-2026-11-20.jsonl.gz", "--db", db_path, "-q").exit_code == 0
    assert cli("asn", "import", SAMPLE_LOGS / "asn-ranges.tsv", "--db", db_path).exit_code == 0
    assert cli("analyze", "--db", db_path, "-q").exit_code == 0
    out = tmp_path / "out"
    good = cli("decide", "--out", out, "--db", db_path)
    assert good.exit_code == 0, good.output
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert before and not any(ip.encode() in (out / "decisions.json").read_bytes() for ip in NAT_IPS)

    # A plausible misconfiguration: someone "tightens" token rotation until any address shared by a few tokens is a farm.
    bad = tmp_path / "bad.toml"
    bad.write_text("[detectors.ip_token_fanout]\nk = 0.1\nfloor = 2\nmin_throwaway_share = 0\nthrowaway_share_medium = 0\n"
                   "throwaway_share_high = 0\nhigh_score = 1.01\n")
    assert cli("analyze", "--db", db_path, "--config", bad, "-q").exit_code == 0
    result = cli("decide", "--out", out, "--db", db_path, "--config", bad)
    assert result.exit_code == 3, result.output
    message = " ".join(result.output.split())  # the console wraps long lines
    assert "Safety valve" in message and "Nothing was written" in message and "Traceback" not in message
    for ip in NAT_IPS:
        stops = re.search(rf"block ip {re.escape(ip)} stops ([\d,]+) of them", message)
        assert stops and int(stops[1].replace(",", "")) > 0, (ip, message)
    share = re.search(r"would stop ([\d,]+) of ([\d,]+) legitimate-looking requests \(([\d.]+)%\)", message)
    assert share, message
    hit, clean, pct = int(share[1].replace(",", "")), int(share[2].replace(",", "")), float(share[3])
    limit = re.search(r"above the limit of ([\d.]+)%", message)
    assert limit and 0 < hit <= clean and pct == pytest.approx(100 * hit / clean, abs=0.01) and pct > float(limit[1])
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    con = duckdb.connect(str(db_path), read_only=True)
    outcomes = con.execute("SELECT outcome FROM decision_runs ORDER BY started_at").fetchall()
    con.close()
    assert [o for (o,) in outcomes] == ["written", "safety_valve"]


def _stolen_key_day(tmp_path, db_path, cli, thieves):
    """An owner on one network in quiet hours, then the thieves' addresses within the hour, and the finding."""
    day = benign_and_attack_lines()
    owner = "198.51.100.201"
    for hour in range(2, 8):  # the owner: one address, a few calls in each of six quiet hours
        day += [{"ts": f"2026-11-20T{hour:02d}:{m:02d}:00Z", "client_ip": owner, "path": "/v1/embeddings", "status": 200,
                 "token": "key_owned01", "user_agent": "sdk/1.0"} for m in (5, 25, 45)]
    day += [{"ts": f"2026-11-20T{12 + k // 60}:{k % 60:02d}:{s:02d}Z", "client_ip": ip, "path": "/v1/chat/completions", "status": 200,
             "token": "key_owned01", "user_agent": "python"} for k, ip in enumerate(thieves) for s in (1, 31)]
    assert cli("ingest", write_log(tmp_path / "a.jsonl", day), "--db", db_path).exit_code == 0
    insert_findings(db_path, [finding("token_ip_fanout", "token", "key_owned01", {"token": "key_owned01"}, "high", "distinct_ips", 21, 4)])


def test_stolen_token_is_stopped_on_the_thieves_networks_only(tmp_path, db_path, cli):
    _stolen_key_day(tmp_path, db_path, cli, [f"100.{64 + k}.7.9" for k in range(20)])  # resold: twenty networks
    result = cli("decide", "--out", tmp_path / "out", "--db", db_path)
    assert result.exit_code == 0, result.output
    active = json.loads((tmp_path / "out/decisions.json").read_text())["decisions"]
    narrowed = {d["match"]["client_ip"] for d in active if d["match"].get("token") == "key_owned01"}
    assert narrowed == {f"100.{64 + k}.7.0/24" for k in range(20)}  # every thief network, and the owner's is not one
    assert all(d["scope"] == "token" and d["value"] == f"key_owned01@{d['match']['client_ip']}" for d in active
               if d["match"].get("token") == "key_owned01")
    assert "198.51.100.0/24" in cli("explain", "key_owned01", "--db", db_path).output


def test_key_resold_through_many_networks_is_stopped_by_the_ranges_around_its_owner(tmp_path, db_path, cli):
    # 150 thieves' networks: more than the 120 ranges making up the address space without the owner's /24 (24 for
    # IPv4, 96 for IPv6 without its IPv4-mapped part). 148 sit in 0.0.0.0/1, one in 200.0.0.0/5, one in 2000::/3; the
    # owner's 198.51.100.0/24 is in none of them.
    thieves = [f"100.{64 + k % 60}.{k // 60}.9" for k in range(148)] + ["203.0.113.9", "2001:db8:7::9"]
    _stolen_key_day(tmp_path, db_path, cli, thieves)
    result = cli("decide", "--out", tmp_path / "out", "--db", db_path)
    assert result.exit_code == 0, result.output
    active = json.loads((tmp_path / "out/decisions.json").read_text())["decisions"]
    stolen = {d["match"]["client_ip"]: d for d in active if d["match"].get("token") == "key_owned01"}
    assert sorted(stolen) == ["0.0.0.0/1", "200.0.0.0/5", "2000::/3"]
    assert [stolen[r]["evidence"]["requests"] for r in sorted(stolen)] == [296, 2, 2]
    assert "the address ranges holding its thieves' 150 networks" in cli("explain", "key_owned01", "--db", db_path).output


def test_fingerprint_spread_over_many_networks_is_narrowed_to_the_ranges_around_its_clean_callers(tmp_path, db_path, cli):
    # The clean callers' common fingerprint, also used by a farm from 150 networks: more than the 120 ranges making up
    # the address space without the clean callers' one network (198.51.100.0/24).
    farm = [f"100.{64 + k % 60}.{k // 60}.9" for k in range(148)] + ["203.0.114.9", "2001:db8:7::9"]
    day = benign_and_attack_lines() + [
        {"ts": f"2026-11-20T{12 + k // 60}:{k % 60:02d}:{s:02d}Z", "client_ip": ip, "path": "/v1/chat/completions",
         "status": 200, "ja4": "t13d_clean1", "user_agent": "python"} for k, ip in enumerate(farm) for s in (1, 31)]
    assert cli("ingest", write_log(tmp_path / "a.jsonl", day), "--db", db_path).exit_code == 0
    insert_findings(db_path, [finding("fingerprint_quota", "fingerprint", "t13d_clean1", {"ja4": "t13d_clean1"}, "high")])
    result = cli("decide", "--out", tmp_path / "out", "--db", db_path)
    assert result.exit_code == 0, result.output  # the valve agrees: no clean caller is stopped
    active = json.loads((tmp_path / "out/decisions.json").read_text())["decisions"]
    narrowed = {d["match"]["client_ip"]: d for d in active if d["match"].get("ja4") == "t13d_clean1"}
    assert sorted(narrowed) == ["0.0.0.0/1", "200.0.0.0/5", "2000::/3"]
    assert [narrowed[r]["evidence"]["requests"] for r in sorted(narrowed)] == [296, 2, 2]
    assert "the address ranges holding its 150 such networks" in cli("explain", "t13d_clean1", "--db", db_path).output
