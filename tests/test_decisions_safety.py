"""The safety valve: decisions that would stop too much clean traffic write nothing, keep the old files, exit 3."""

from __future__ import annotations

import duckdb

from decisions_helpers import ATTACK_FINDINGS, benign_and_attack_lines, finding, insert_findings, write_log


def test_valve_trips_keeps_previous_files_and_says_why(tmp_path, db_path, cli):
    assert cli("ingest", write_log(tmp_path / "a.jsonl", benign_and_attack_lines()), "--db", db_path).exit_code == 0
    insert_findings(db_path, ATTACK_FINDINGS)
    out = tmp_path / "out"
    assert cli("decide", "--out", out, "--db", db_path).exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
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


def test_narrowing_keeps_a_broad_decision_off_clean_callers(tmp_path, db_path, cli):
    assert cli("ingest", write_log(tmp_path / "a.jsonl", benign_and_attack_lines()), "--db", db_path).exit_code == 0
    insert_findings(db_path, [finding("fingerprint_quota", "fingerprint", "t13d_clean1", {"ja4": "t13d_clean1"}, "high")])
    assert cli("decide", "--out", tmp_path / "out", "--db", db_path).exit_code == 0
    assert (tmp_path / "out/decisions.json").read_text().count('"id"') == 0
    assert "stops legitimate-looking traffic in every network" in cli("explain", "t13d_clean1", "--db", db_path).output
