"""The replay matcher (independent of the policy) and the acceptance figures on sample_logs."""

from __future__ import annotations

import json
import os

import duckdb
import pytest

from conftest import SAMPLE_LOGS
from decisions_helpers import benign_and_attack_lines, write_log
from gatewarden import replay


def test_matcher_every_key_must_match_and_cidrs_contain(tmp_path, db_path, cli):
    assert cli("ingest", write_log(tmp_path / "a.jsonl", benign_and_attack_lines()), "--db", db_path).exit_code == 0
    con = duckdb.connect(str(db_path))
    rules = [replay.Rule("net", {"client_ip": "192.0.2.0/29"}),  # .0-.7 of the farm: 8 of its 10 addresses
             replay.Rule("both", {"token": "key_leaked01", "client_ip": "203.0.113.7"}),
             replay.Rule("v6", {"client_ip": "2001:db8:1:2::/64"}),
             replay.Rule("one", {"client_ip": "192.0.2.9"}), replay.Rule("host", {"client_ip": "192.0.2.8/32"}),
             replay.Rule("fp", {"ja4": "t13d_bad", "user_agent": "nope"}),
             replay.Rule("unknown", {"no_such_field": "x"})]
    m = replay.Matcher(con, rules)
    got = dict(con.execute(f"SELECT rule_id, count(*) FROM ({m.hits_sql('SELECT rowid AS req_key, * FROM requests')}) GROUP BY 1")
               .fetchall())
    con.close()
    assert got == {"net": 80, "both": 4, "v6": 30, "one": 10, "host": 10}
    assert m.unmatchable == ["unknown"] and m.bad_address == []


def test_matcher_names_rules_that_can_match_nothing(db_path):
    con = duckdb.connect(str(db_path))
    m = replay.Matcher(con, [replay.Rule("empty", {}), replay.Rule("bookkeeping", {"source_line": 3}),
                             replay.Rule("time", {"ts": "2026-11-20 00:00:00"}), replay.Rule("bad", {"client_ip": "10.0.0.300"}),
                             replay.Rule("ok", {"token": "key_x"})])
    con.close()
    assert m.unmatchable == ["empty", "bookkeeping", "time"] and m.bad_address == ["bad"] and m.keysets == [("token",)]


HARD_BENIGN = ("benign_corporate_nat", "benign_cgnat", "benign_batch_customer", "benign_search_crawler", "benign_traveller")


@pytest.fixture(scope="module")
def sample_replay(tmp_path_factory):
    if not (SAMPLE_LOGS / "requests-2026-11-20.jsonl.gz").exists():
        pytest.skip("sample_logs not generated")
    from typer.testing import CliRunner

    from conftest import TEST_KEY
    from gatewarden.cli.app import app

    tmp = tmp_path_factory.mktemp("replay")
    db = tmp / "gw.duckdb"
    env = {**os.environ, "GATEWARDEN_TOKEN_KEY": TEST_KEY}
    result = CliRunner().invoke(app, ["run", str(SAMPLE_LOGS / "requests-2026-11-20.jsonl.gz"), "--out", str(tmp / "out"),
                                      "--db", str(db), "--quiet"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, "run (or its safety valve) failed on sample_logs: " + result.output
    con = duckdb.connect(str(db))
    results = replay.evaluate(con, tmp / "out/decisions.json", replay.label_files(SAMPLE_LOGS))
    con.close()
    summary = replay.summary(results)
    if os.environ.get("GATEWARDEN_EVAL_OUT"):
        with open(os.environ["GATEWARDEN_EVAL_OUT"], "w") as fh:
            json.dump({"per_scenario": results, "summary": summary}, fh, indent=2, default=str)
    return results, summary


@pytest.mark.slow
def test_sample_logs_gateway_replay_stops_attacks_not_benign(sample_replay):
    results, summary = sample_replay
    assert summary["benign_share"] < 0.001, results
    assert not [r["scenario"] for r in results if r["scenario"] in HARD_BENIGN and r["stopped"]], "a hard benign case is stopped"
    # The quota burst is throttled by design (a burst slows to the key's own pace): its rejected requests count.
    missed = {s: share for s, share in summary["attacks"].items() if share < 0.95}
    assert not missed, summary["attacks"]


@pytest.mark.slow
def test_sample_logs_sequence_skipping_is_stopped_travellers_are_not(sample_replay):
    """Throwaway accounts calling image generation and chat with no page, login or model list first are stopped
    whole; travellers, whose established keys skip the same pages all day, are not."""
    results, summary = sample_replay
    assert summary["attacks"]["attack_sequence_skipping"] == 1.0
    assert next(r for r in results if r["scenario"] == "benign_traveller")["stopped"] == 0
