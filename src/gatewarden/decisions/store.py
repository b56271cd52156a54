"""Decisions in the database (history for escalation, `diff` and reports) and as the decisions.json document."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from gatewarden.db import dicts
from gatewarden.decisions.model import Decision
from gatewarden.detectors.base import Window

COLUMNS = ("id", "decision_run", "scope", "value", "action", "match", "reasons", "detectors", "requests", "first_seen",
           "last_seen", "cost", "created_at", "expires_at", "ttl_s", "offence_count", "limit_requests", "limit_per_s",
           "window_start", "window_end", "status", "status_reason", "reissued")


def save(con: duckdb.DuckDBPyConnection, run_id: str, window: Window, decisions: list[Decision], run: dict) -> None:
    """Replace this run's rows (a re-run of the same window and config is idempotent)."""
    con.begin()
    try:
        con.execute("DELETE FROM decisions WHERE decision_run = ?", [run_id])
        con.execute("DELETE FROM decision_runs WHERE decision_run = ?", [run_id])
        if decisions:
            con.executemany(f"INSERT INTO decisions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})", [[
                d.id, run_id, d.scope, d.value, d.action, _json(d.match), _json(d.reasons), d.detectors, d.requests,
                d.first_seen, d.last_seen, d.cost, window.end, d.expires_at, d.ttl_s, d.offence_count, d.limit_requests,
                d.limit_per_s, window.start, window.end, d.status, d.status_reason, d.reissued] for d in decisions])
        names = ", ".join(run)
        con.execute(f"INSERT INTO decision_runs ({names}) VALUES ({', '.join('?' for _ in run)})", list(run.values()))
        con.commit()
    except BaseException:
        con.rollback()
        raise


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def document(decisions: list[Decision], window: Window) -> dict:
    """The decisions.json contract (data/decisions.schema.json): active decisions only, in deterministic order."""
    items = []
    for d in decisions:
        if d.status != "active":
            continue
        item = {
            "id": d.id, "scope": d.scope, "value": d.value, "action": d.action, "match": d.match,
            "expires_at": iso(d.expires_at), "ttl_s": d.ttl_s, "offence_count": d.offence_count,
            "reasons": [{k: r.get(k) for k in ("detector", "metric", "value", "threshold")} for r in d.reasons],
            "evidence": {"requests": d.requests, "first_seen": iso(d.first_seen), "last_seen": iso(d.last_seen),
                         "cost": round(round(d.cost or 0.0, 9), 6)},  # 9 first: a float sum's last bits vary
        }
        if d.action == "throttle":
            item["limit"] = {"requests": d.limit_requests, "per_s": d.limit_per_s}
        items.append(item)
    return {"generated_at": iso(window.end), "window": {"start": iso(window.start), "end": iso(window.end)}, "decisions": items}


def dumps(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def previous_document(con: duckdb.DuckDBPyConnection, window: Window) -> dict | None:
    """The decisions.json of the last written run before `window` (from history, so re-runs stay byte-identical)."""
    run = dicts(con, """SELECT decision_run, window_start, window_end FROM decision_runs
                        WHERE window_end < ? AND outcome = 'written' ORDER BY window_end DESC LIMIT 1""", [window.end])
    if not run:
        return None
    return document(load(con, run[0]["decision_run"]), Window(run[0]["window_start"], run[0]["window_end"]))


def load(con: duckdb.DuckDBPyConnection, run_id: str, status: str | None = "active") -> list[Decision]:
    out = []
    for p in dicts(con, "SELECT * FROM decisions WHERE decision_run = ? AND (? IS NULL OR status = ?) ORDER BY scope, value",
                   [run_id, status, status]):
        out.append(Decision(
            id=p["id"], scope=p["scope"], value=p["value"], action=p["action"], match=json.loads(p["match"]),
            reasons=json.loads(p["reasons"]), requests=p["requests"], first_seen=p["first_seen"], last_seen=p["last_seen"],
            cost=p["cost"], window=Window(p["window_start"], p["window_end"]), offence_count=p["offence_count"],
            ttl_s=p["ttl_s"], expires_at=p["expires_at"], limit_requests=p["limit_requests"], limit_per_s=p["limit_per_s"],
            status=p["status"], status_reason=p["status_reason"], reissued=p["reissued"],
        ))
    return sorted(out, key=Decision.sort_key)
