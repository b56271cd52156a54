"""Customer notices: one per token, in plain words, with the step that fits what happened."""

from __future__ import annotations

import json
from datetime import datetime

from gatewarden.config import DatabaseConfig
from gatewarden.db import connect
from gatewarden.reports.notices import build_notices

START, END = datetime(2026, 11, 20), datetime(2026, 11, 21)


def add(con, value, action, match, reasons, limit=None):
    con.execute(
        """INSERT INTO decisions (id, decision_run, scope, value, action, match, reasons, created_at, expires_at, ttl_s,
                                  offence_count, limit_requests, limit_per_s, window_start, window_end, status)
           VALUES (?, 'run1', 'token', ?, ?, ?, ?, ?, ?, 86400, 1, ?, ?, ?, ?, 'active')""",
        [value, value, action, json.dumps(match), json.dumps(reasons), END, datetime(2026, 11, 22),
         limit and limit[0], limit and limit[1], START, END])


def test_one_notice_per_token_with_plain_reason_and_next_step(tmp_path):
    con = connect(DatabaseConfig(path=tmp_path / "gw.duckdb"))
    leak = [{"detector": "token_ip_fanout", "metric": "nets", "value": 280.0, "threshold": 6.0},
            {"detector": "anomaly", "metric": "isolation_score", "value": 0.79, "threshold": 0.54}]
    for net in ("198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24"):
        add(con, f"h:abc@{net}", "block", {"token": "h:abc", "client_ip": net}, leak)
    add(con, "key_burst", "throttle", {"token": "key_burst"},
        [{"detector": "burst", "metric": "max_requests_5m", "value": 60.0, "threshold": 7.0}], limit=(7, 300))
    notices = {n["token"]: n for n in build_notices(con, "run1", "support@example.com")}
    con.close()

    assert sorted(notices) == ["h:abc", "key_burst"]
    leaked = notices["h:abc"]
    assert leaked["action"] == "block on 3 networks"
    assert leaked["reason"].startswith("Your key was used from 280 different networks within 24 hours")
    assert "isolation" not in leaked["reason"]
    assert "Rotate the key" in leaked["next_step"] and "3 networks" in leaked["next_step"]
    burst = notices["key_burst"]
    assert burst["action"] == "throttle"
    assert "60 requests within 5 minutes" in burst["reason"]
    assert "at most 1.4 requests per minute" in burst["next_step"]


def test_key_stopped_everywhere_but_its_owners_networks_says_so(tmp_path):
    con = connect(DatabaseConfig(path=tmp_path / "gw.duckdb"))
    leak = [{"detector": "token_ip_fanout", "metric": "nets", "value": 900.0, "threshold": 6.0}]
    for net in ("0.0.0.0/1", "200.0.0.0/5", "2000::/3"):
        add(con, f"h:abc@{net}", "block", {"token": "h:abc", "client_ip": net}, leak)
    [notice] = build_notices(con, "run1", "support@example.com")
    con.close()
    assert notice["action"] == "block outside your own networks"
    assert "everywhere except the networks you normally use it from" in notice["next_step"]
    assert "3 networks" not in notice["next_step"]
