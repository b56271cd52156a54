"""State across nights: daily aggregates replaced not added, smoothed rate limits, pruning that keeps history."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

from gatewarden.config import Config
from gatewarden.db import connect, dicts, rows, scalar
from gatewarden.ops.state import baseline, prune, record_day, smooth_rate_limits


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
