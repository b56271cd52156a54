"""sequence detector: Markov surprise on toy sequences, precedence and timing through the real CLI, and the planted
attacks of the sequence, graphql, schema and auth_abuse detectors on generated days (sample_logs and another seed)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import pytest

from gatewarden.db import connect
from gatewarden.evaluate import evaluate

REPO = Path(__file__).resolve().parents[1]
T0 = 1795132800  # 2026-11-20 00:00 UTC
MY_SCENARIOS = {
    "attack_sequence_skipping": "sequence", "attack_graphql_depth_bomb": "graphql", "attack_graphql_alias_bomb": "graphql",
    "attack_endpoint_probing": "schema", "attack_credential_stuffing": "auth_abuse", "attack_expired_token": "auth_abuse",
}
HARD_BENIGN = ("benign_corporate_nat", "benign_cgnat", "benign_batch_customer", "benign_search_crawler", "benign_traveller")
MY_DETECTORS = ("sequence", "graphql", "schema", "auth_abuse")


def toy_sessions(seed: int) -> list[dict]:
    """Browser users walk / -> /login -> /v1/models -> /v1/images at human pace; one bot jumps straight to
    /v1/images and alternates with /v1/files in a way nobody else does, at metronome pace."""
    rng = random.Random(seed)
    recs: list[dict] = []
    ua = "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0"
    for u in range(80):
        t = rng.randrange(70000)
        walk = ["/", "/auth/login", "/v1/models"] + ["/v1/images/generations", "/v1/models"] * rng.randrange(3, 6)
        for p in walk:
            t += rng.expovariate(1 / 20)
            recs.append({"ts": T0 + t, "client_ip": f"100.80.0.{u + 1}", "method": "GET", "path": p, "status": 200,
                         "session_id": f"sess{u}", "user_agent": ua, "token": f"key_user{u:03d}", "duration_ms": 900})
    t = 75000.0
    for k in range(30):
        t += 4.0
        p = "/v1/images/generations" if k % 2 == 0 else "/v1/files/upload"
        recs.append({"ts": T0 + t, "client_ip": "192.0.2.200", "method": "POST", "path": p, "status": 200,
                     "session_id": "sessbot", "user_agent": ua, "token": "key_skipper", "request_id": f"bot{k}",
                     "duration_ms": 900})
    return recs


def test_surprise_precedence_and_timing_on_toy_sessions(tmp_path, db_path, cli):
    log = tmp_path / "seq.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in toy_sessions(11)) + "\n")
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    result = cli("analyze", "--db", db_path, "--detector", "sequence")
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = con.execute("SELECT metric, severity, observed, threshold, match, details, value FROM findings "
                           "WHERE detector = 'sequence'").fetchall()
        bot_cookie = con.execute("SELECT session_id FROM requests WHERE request_id = 'bot0'").fetchall()[0][0]
        ngrams = con.execute("SELECT n, ngram, sessions FROM sequence_ngrams ORDER BY n, requests DESC").fetchall()
    finally:
        con.close()
    bot = {r[0]: r for r in rows if json.loads(r[4]) == {"token": "key_skipper"}}
    assert set(bot) == {"sequence_surprise", "precedence_violations", "timing_regularity"}
    assert {r[6] for r in bot.values()} == {f"s:{bot_cookie}#1"}  # the session's readable key, not its number
    assert bot["sequence_surprise"][1] == "high" and bot["sequence_surprise"][2] > bot["sequence_surprise"][3]
    skipped = json.loads(bot["precedence_violations"][5])["skipped"]
    assert skipped[0]["endpoint"] == "/v1/images/generations" and skipped[0]["usual_predecessors"][0].startswith("/")
    assert bot["timing_regularity"][1] == "medium" and bot["timing_regularity"][2] < 0.01
    assert not [r for r in rows if "key_user" in r[4] and r[1] != "low"]
    assert (2, "/v1/images/generations -> /v1/models", 80) in ngrams
    assert any(n == 3 for n, _, _ in ngrams)


def generated_day(tmp_path: Path, cli, seed: int, scale: float) -> tuple[Path, Path]:
    out = tmp_path / f"day{seed}"
    assert cli("generate", "--out", out, "--seed", seed, "--scale", scale, "--formats", "jsonl", "--quiet").exit_code == 0
    return out / "requests-2026-11-20.jsonl.gz", out / "labels-2026-11-20.csv.gz"


def score(db_path: Path, cli, requests: Path, labels: Path) -> dict:
    assert cli("ingest", requests, "--db", db_path, "--quiet").exit_code == 0
    args = [a for d in MY_DETECTORS for a in ("--detector", d)]
    assert cli("analyze", "--db", db_path, "--quiet", *args).exit_code == 0
    from gatewarden.config import DatabaseConfig

    con = connect(DatabaseConfig(path=db_path))
    try:
        return {r.scenario: r for r in evaluate(con, labels).rows}
    finally:
        con.close()


def sample_logs_day() -> tuple[Path, Path] | None:
    requests = sorted((REPO / "sample_logs").glob("requests-*.jsonl.gz"))
    labels = sorted((REPO / "sample_logs").glob("labels-*.csv.gz"))
    return (requests[0], labels[0]) if requests and labels else None


@pytest.mark.parametrize("source", ["sample_logs", "seed-4-scale-0.4"])
def test_planted_attacks_found_and_hard_benign_never_high(tmp_path, db_path, cli, source):
    if source == "sample_logs":
        day = sample_logs_day()
        if day is None:
            pytest.skip("sample_logs/ holds no generated day yet")
    else:
        day = generated_day(tmp_path, cli, seed=4, scale=0.4)
    rows = score(db_path, cli, *day)
    for scenario, detector in MY_SCENARIOS.items():
        if scenario not in rows:
            continue  # the day's seed planted none
        row = rows[scenario]
        assert row.expected_detector == detector
        # Every planted entity is found, except sequence skipping: bots whose session starts at chat look like
        # browser users resuming after a 30-minute pause, so only those that skip a guarded endpoint are caught.
        if detector == "sequence":
            assert row.entities_found_expected > 0, scenario
        else:
            assert row.entities_found_expected == 1.0, scenario
    for scenario in HARD_BENIGN:
        if scenario in rows:
            assert rows[scenario].entities_high == 0 and rows[scenario].requests_high == 0, scenario
