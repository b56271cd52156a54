"""Shared builders for the decisions tests: real log files through the real CLI, findings inserted as detectors would."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

DAY = datetime(2026, 11, 20)
WINDOW = (DAY, DAY + timedelta(days=1))


def benign_and_attack_lines(day: datetime = DAY) -> list[dict]:
    """40 clean callers, one abusive token on many IPs, one /24 bot farm, one IPv6 scraper."""
    DAY = day  # noqa: N806 - the day the lines fall on
    lines = []
    for i in range(40):
        for k in range(20):
            lines.append({"ts": (DAY + timedelta(minutes=30 * k + i)).isoformat() + "Z", "client_ip": f"198.51.100.{i + 10}",
                          "path": f"/v1/chat/completions?n={k}", "status": 200, "token": f"key_user{i:03d}", "ja4": f"t13d_clean{i % 3}",
                          "user_agent": "sdk/1.0"})
    for k in range(200):
        lines.append({"ts": (DAY + timedelta(seconds=60 * k)).isoformat() + "Z", "client_ip": f"203.0.113.{k % 50}",
                      "path": "/v1/chat/completions", "status": 200, "token": "key_leaked01", "ja4": "t13d_bad", "user_agent": "python"})
    for k in range(100):
        lines.append({"ts": (DAY + timedelta(seconds=30 * k)).isoformat() + "Z", "client_ip": f"192.0.2.{k % 10}",
                      "path": "/v1/models", "status": 200, "token": f"key_farm{k:03d}", "ja4": "t13d_farm", "user_agent": "curl"})
    for k in range(30):
        lines.append({"ts": (DAY + timedelta(seconds=10 * k)).isoformat() + "Z", "client_ip": f"2001:db8:1:2::{k + 1:x}",
                      "path": "/v1/embeddings", "status": 200, "token": "key_scraper6", "user_agent": "scrapy"})
    return lines


def write_log(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def finding(detector: str, scope: str, value: str, match: dict, severity: str = "high", metric: str = "m",
            observed: float = 10.0, threshold: float = 5.0, requests: int = 100) -> dict:
    return {"detector": detector, "scope": scope, "value": value, "match": match, "severity": severity, "metric": metric,
            "observed": observed, "threshold": threshold, "requests": requests}


def window_of(day: datetime) -> tuple[datetime, datetime]:
    return day, day + timedelta(days=1)


def insert_findings(db_path: Path, findings: list[dict], window: tuple[datetime, datetime] = WINDOW) -> None:
    con = duckdb.connect(str(db_path))
    try:
        con.execute("DELETE FROM findings WHERE window_start = ? AND window_end = ?", list(window))
        for i, f in enumerate(findings):
            con.execute("""INSERT INTO findings (finding_id, run_id, detector, scope, value, metric, observed, threshold, score,
                           severity, window_start, window_end, requests, cost, first_seen, last_seen, match, details)
                           VALUES (?, 'test', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0.5, ?, ?, ?, '{}')""",
                        [f"f{i}", f["detector"], f["scope"], f["value"], f["metric"], f["observed"], f["threshold"],
                         f["observed"] / f["threshold"], f["severity"], window[0], window[1], f["requests"], window[0],
                         window[1] - timedelta(seconds=1), json.dumps(f["match"])])
        con.execute("DELETE FROM analysis_runs WHERE run_id = ?", [f"test{window[1]:%Y%m%d}"])
        con.execute("INSERT INTO analysis_runs VALUES (?, ?, ?, 0, [], ?, now(), now())",
                    [f"test{window[1]:%Y%m%d}", window[0], window[1], len(findings)])
    finally:
        con.close()


ATTACK_FINDINGS = [
    finding("token_ip_fanout", "token", "key_leaked01", {"token": "key_leaked01"}, "high", "distinct_ips", 50, 4, 200),
    *[finding("asn_automation", "ip", f"192.0.2.{k}", {"client_ip": f"192.0.2.{k}"}, "medium", "rps", 3, 1, 10) for k in range(10)],
    *[finding("burst", "ip", f"192.0.2.{k}", {"client_ip": f"192.0.2.{k}"}, "medium", "burst", 3, 1, 10) for k in range(10)],
    finding("fingerprint_quota", "fingerprint", "t13d_farm", {"ja4": "t13d_farm"}, "medium", "tokens_per_fp", 100, 5, 100),
    *[finding("sequence", "ip", f"2001:db8:1:2::{k + 1:x}", {"client_ip": f"2001:db8:1:2::{k + 1:x}"}, "low", "scrape", 2, 1, 1)
      for k in range(30)],
    finding("anomaly", "token", "key_user001", {"token": "key_user001"}, "high", "iforest", 0.9, 0.6, 20),
]


def load_json(path: Path) -> dict:
    return json.loads(path.read_text())
