"""State across nights: daily aggregates replaced not added, smoothed rate limits, pruning that keeps history;
and the issue's acceptance on real generated nights: night 2 uses night 1's history, a re-run changes nothing."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from conftest import SAMPLE_LOGS
from gatewarden.config import Config
from gatewarden.db import connect, dicts, rows, scalar
from gatewarden.ops.state import baseline, prune, record_day, smooth_rate_limits

STATE_TABLES = ("requests", "rejects", "findings", "analysis_runs", "decisions", "decision_runs", "entity_daily", "threshold_daily",
                "rate_limit_history")


def night(path: Path, day: date, leaked_ips: int) -> Path:
    """A small day: ten ordinary keys from one address each, one key used from `leaked_ips` addresses."""
    start = datetime.combine(day, datetime.min.time())
    records = []
    for i in range(200):
        ts = start + timedelta(minutes=7 * i)
        records.append({"ts": ts.isoformat() + "Z", "client_ip": f"10.0.{i % 10}.1", "token": f"key_user{i % 10}",
                        "asn": 64500 + i % 3, "path": "/v1/chat/completions", "status": 200, "duration_ms": 900})
    for i in range(leaked_ips):
        records.append({"ts": (start + timedelta(minutes=5 * i)).isoformat() + "Z", "client_ip": f"203.0.113.{i + 1}",
                        "token": "key_leaked", "asn": 64666, "path": "/v1/chat/completions", "status": 200, "duration_ms": 1500})
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def test_daily_distinct_counts_match_count_distinct_and_are_zero_where_nothing_was_seen(cli, tmp_path, db_path):
    day = date(2026, 11, 20)
    anonymous = tmp_path / "anonymous.jsonl"  # no key and no ASN: both counts must be 0, not NULL or 1
    anonymous.write_text("".join(json.dumps({"ts": f"2026-11-20T0{i}:00:00Z", "client_ip": "198.51.100.7",
                                             "path": "/v1/models", "status": 200}) + "\n" for i in range(3)))
    for path in (night(tmp_path / "day.jsonl", day, 4), anonymous):
        assert cli("ingest", path, "--db", db_path).exit_code == 0
    cfg = Config().model_copy(update={"database": Config().database.model_copy(update={"path": db_path})})
    con = connect(cfg.database)
    try:
        record_day(con, cfg, day)
        per_ip = """SELECT client_ip, count(*), count(DISTINCT token), count(DISTINCT asn) FROM requests
                    GROUP BY ALL ORDER BY ALL"""
        assert rows(con, "SELECT value, requests, distinct_tokens, distinct_asns FROM entity_daily "
                         "WHERE scope = 'ip' ORDER BY ALL") == rows(con, per_ip)
        assert ("198.51.100.7", 3, 0, 0) in rows(con, per_ip)
        assert rows(con, "SELECT distinct_ips, distinct_tokens, distinct_asns FROM entity_daily WHERE scope = '*'") == \
            rows(con, "SELECT count(DISTINCT client_ip), count(DISTINCT token), count(DISTINCT asn) FROM requests")
    finally:
        con.close()


def test_daily_aggregates_are_replaced_and_survive_pruning(cli, tmp_path: Path, db_path: Path) -> None:
    day1, day2 = date(2026, 11, 20), date(2026, 11, 21)
    for day, n in ((day1, 40), (day2, 60)):
        assert cli("ingest", night(tmp_path / f"{day}.jsonl", day, n), "--db", db_path).exit_code == 0
    cfg = Config().model_copy(update={"database": Config().database.model_copy(update={"path": db_path})})
    con = connect(cfg.database)
    try:
        record_day(con, cfg, day1)
        first = rows(con, "SELECT * FROM entity_daily ORDER BY ALL")
        record_day(con, cfg, day1)  # the same day again: replaced, not added
        assert rows(con, "SELECT * FROM entity_daily ORDER BY ALL") == first
        leaked = dicts(con, "SELECT * FROM entity_daily WHERE day = ? AND scope = 'token' AND value = 'key_leaked'", [day1])[0]
        assert leaked["distinct_ips"] == 40 and leaked["requests"] == 40 and leaked["cost"] > 0
        assert scalar(con, "SELECT requests FROM entity_daily WHERE day = ? AND scope = '*'", [day1]) == 240
        assert baseline(con, "token", day2, 28)["key_leaked"]["requests"] == 40

        result = prune(con, cfg, keep_days=1)
        assert result.cutoff == day2 and result.requests_deleted == 240 and result.days_summarised == []
        assert scalar(con, "SELECT min(CAST(ts AS DATE)) FROM requests") == day2
        assert rows(con, "SELECT * FROM entity_daily WHERE day = ? ORDER BY ALL", [day1]) == first
        record_day(con, cfg, day2)
        assert scalar(con, "SELECT count(DISTINCT day) FROM entity_daily") == 2
    finally:
        con.close()


def test_prune_summarises_days_it_deletes(cli, tmp_path: Path, db_path: Path) -> None:
    day1, day2 = date(2026, 11, 20), date(2026, 11, 21)
    for day in (day1, day2):
        cli("ingest", night(tmp_path / f"{day}.jsonl", day, 5), "--db", db_path)
    dry = cli("prune", "--keep-days", "1", "--db", db_path, "--dry-run")
    assert dry.exit_code == 0 and "205" in dry.output
    result = cli("prune", "--keep-days", "1", "--db", db_path)
    assert result.exit_code == 0, result.output
    cfg = Config().model_copy(update={"database": Config().database.model_copy(update={"path": db_path})})
    con = connect(cfg.database)
    try:
        assert scalar(con, "SELECT count(*) FROM requests WHERE ts < ?", [day2]) == 0
        assert scalar(con, "SELECT requests FROM entity_daily WHERE day = ? AND scope = '*'", [day1]) == 205
    finally:
        con.close()


def test_rate_limits_move_smoothly_and_reruns_change_nothing(db_path: Path) -> None:
    cfg = Config().model_copy(update={"database": Config().database.model_copy(update={"path": db_path})})
    con = connect(cfg.database)
    try:
        first = smooth_rate_limits(con, [{"scope": "token", "value": "key_a", "per_minute": 100}], date(2026, 11, 20))
        assert first[0]["per_minute"] == 100 and first[0]["previous"] is None
        tonight = [{"scope": "token", "value": "key_a", "per_minute": 400}, {"scope": "token", "value": "key_b", "per_minute": 7}]
        second = smooth_rate_limits(con, tonight, date(2026, 11, 21))
        assert second[0]["per_minute"] == 150  # EWMA would say 250; capped at x1.5 of last night
        assert second[0]["recommended"] == 400 and second[0]["previous"] == 100
        assert second[1]["per_minute"] == 7  # first night of a key: as recommended
        assert smooth_rate_limits(con, tonight, date(2026, 11, 21)) == second  # the same night again
        down = smooth_rate_limits(con, [{"scope": "token", "value": "key_a", "per_minute": 1}], date(2026, 11, 22))
        assert down[0]["per_minute"] == 101  # at most x0.67 down: ceil(150 * 0.67)
    finally:
        con.close()


def table_counts(db: Path) -> dict[str, int]:
    con = connect(Config().database.model_copy(update={"path": db}), read_only=True)
    try:
        return {t: scalar(con, f"SELECT count(*) FROM {t}") for t in STATE_TABLES}
    finally:
        con.close()


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.skipif(not (SAMPLE_LOGS / "requests-2026-11-20.jsonl.gz").exists(), reason="sample_logs/ is not in this checkout")
def test_second_generated_night_uses_the_first_and_a_rerun_changes_nothing(cli, tmp_path: Path, db_path: Path) -> None:
    # Night 2: the same world (customers, attackers' networks) on the next day, another seed, small scale to stay fast.
    assert cli("generate", "--out", tmp_path / "day2", "--day", "2026-11-21", "--seed", "2", "--scale", "0.25",
               "--formats", "jsonl", "-q").exit_code == 0
    night1, night2 = SAMPLE_LOGS / "requests-2026-11-20.jsonl.gz", tmp_path / "day2" / "requests-2026-11-21.jsonl.gz"
    for log, out in ((night1, tmp_path / "out1"), (night2, tmp_path / "out2")):
        result = cli("run", log, "--db", db_path, "--out", out, "--log", "json")
        assert result.exit_code == 0, result.output
    assert f"report: {tmp_path / 'out2' / 'report.html'}" in result.stdout

    # Rate limits: night 2 publishes an EWMA of its recommendation and night 1's published limit, within the bounds.
    first = {(r["endpoint"], r["key"], r["window_s"]): r for r in json.loads((tmp_path / "out1/rate_limits.json").read_text())["limits"]}
    second = json.loads((tmp_path / "out2/rate_limits.json").read_text())["limits"]
    assert all(r["previous"] is None and r["limit"] == r["recommended"] for r in first.values())
    carried = [r for r in second if r["previous"] is not None]
    assert carried and all(r["previous"] == first[(r["endpoint"], r["key"], r["window_s"])]["limit"] for r in carried)
    moved = [r for r in carried if r["limit"] != r["recommended"]]
    assert moved, "no limit was smoothed by night 1's"
    for r in moved:
        assert r["previous"] * 0.67 - 1 <= r["limit"] <= r["previous"] * 1.5 + 1
        assert min(r["previous"], r["recommended"]) <= r["limit"] <= max(r["previous"], r["recommended"])

    # Repeat offenders: the same world's attackers come back, their decisions escalate and last longer.
    before = {(d["scope"], d["value"]): d for d in json.loads((tmp_path / "out1/decisions.json").read_text())["decisions"]}
    again = [(before[(d["scope"], d["value"])], d) for d in json.loads((tmp_path / "out2/decisions.json").read_text())["decisions"]
             if (d["scope"], d["value"]) in before]
    assert again and all(d["offence_count"] == b["offence_count"] + 1 for b, d in again)
    assert any(d["ttl_s"] > b["ttl_s"] for b, d in again)
    summary = json.loads((tmp_path / "out2/summary.json").read_text())
    assert summary["changes"]["available"] and summary["changes"]["decisions"]["repeated"] > 0

    # Re-running night 2 (same logs, same database): byte-identical files, the same rows everywhere.
    files, counts = digests(tmp_path / "out2"), table_counts(db_path)
    assert cli("run", night2, "--db", db_path, "--out", tmp_path / "out2", "-q").exit_code == 0
    assert digests(tmp_path / "out2") == files
    assert table_counts(db_path) == counts
