"""Findings -> decisions on the ladder throttle < challenge < block (CrowdSec-style decisions as data).

- block: a high-severity finding, or `block_min_detectors` independent detectors agreeing at medium or above;
- one medium signal -> `medium_action` (challenge); low signals alone -> `low_action` (none: a hint, no decision);
- a burst alone -> throttle at the burst threshold (the entity's own pace) per 5 minutes;
- a stolen token (decisions/legit.py) -> narrowed to the networks other than its owner's;
- supporting detectors (anomaly) add reasons but never decide, nor count as an independent signal;
- TTL per action, x escalation_factor per previous offence of the entity (capped);
- decisions still active from the previous run are re-issued until they expire;
- allowlists always win (the decision is kept with status `allowlisted`, so `explain` can say why).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import timedelta

import duckdb

from gatewarden.db import dicts
from gatewarden.decisions import allowlist as allowlists
from gatewarden.decisions import legit as legit_traffic
from gatewarden.decisions import store
from gatewarden.decisions.config import DecisionsConfig
from gatewarden.decisions.merge import merge_networks
from gatewarden.decisions.model import Decision, decision_id, rank
from gatewarden.decisions.narrow import narrow_broad, narrow_stolen_tokens
from gatewarden.detectors.base import Window

SEVERITY = {"low": 0, "medium": 1, "high": 2}
BURST_BUCKET_S = 300  # the burst detector's bucket: its threshold is a count per 5 minutes


def decide(con: duckdb.DuckDBPyConnection, cfg: DecisionsConfig, window: Window, throttle_limits: dict[str, int],
           legit: str) -> list[Decision]:
    """Every decision of the window, whatever its status; `throttle_limits` is requests/min per scope,
    `legit` the table of legitimate-looking requests (decisions/legit.py) broad decisions must stay off."""
    findings = dicts(con, """SELECT detector, scope, value, metric, observed, threshold, score, severity, requests, cost,
                                    first_seen, last_seen, match, window_start, window_end
                             FROM findings WHERE window_start = ? AND window_end = ?
                             ORDER BY scope, value, detector, metric""", [window.start, window.end])
    by_entity: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for f in findings:
        by_entity[(f["scope"], f["value"])].append(f)
    decisions = [d for (scope, value), fs in sorted(by_entity.items()) if (d := _from_findings(cfg, scope, value, fs, window))]
    decisions += merge_networks(con, decisions, window, cfg.merge_ipv4_min_ips)
    allow = allowlists.build(con, cfg.allowlist, window)
    for d in decisions:
        why = allow.why(d.scope, d.value, d.match)
        if why:
            d.status, d.status_reason = "allowlisted", why
    if cfg.narrow_broad:
        decisions += narrow_broad(con, decisions, window, legit)
    decisions += narrow_stolen_tokens(con, decisions, window, legit_traffic.owner_networks(con, legit))
    for d in decisions:
        if d.status == "active" and (why := allow.why(d.scope, d.value, d.match)):
            d.status, d.status_reason = "allowlisted", why
    _escalate(con, cfg, decisions, window)
    decisions += _carried_over(con, decisions, window, allow)
    for d in decisions:
        if d.action == "throttle" and not d.reissued and d.limit_requests is None:
            per_min = throttle_limits.get(d.scope, cfg.throttle_fallback_per_min)
            d.limit_requests, d.limit_per_s = max(1, int(per_min * cfg.throttle_headroom)), 60
    return sorted(decisions, key=Decision.sort_key)


def _from_findings(cfg: DecisionsConfig, scope: str, value: str, fs: list[dict], window: Window) -> Decision | None:
    primary = [f for f in fs if f["detector"] not in cfg.supporting_detectors]
    if not primary:
        return None
    # Two weak hints are not two witnesses: only medium or high findings count as independent evidence.
    detectors = {f["detector"] for f in primary if SEVERITY.get(f["severity"], 0) >= 1}
    strongest = max(SEVERITY.get(f["severity"], 0) for f in primary)
    limit = None
    if {f["detector"] for f in primary} == {"burst"}:
        # A burst alone is a rate problem, often a customer's runaway job: slow it to its own usual pace, don't cut it off.
        action, limit = "throttle", max(math.ceil(f["threshold"] or 1) for f in primary)
    elif strongest == 2 or len(detectors) >= cfg.block_min_detectors:
        action = "block"
    else:
        action = cfg.medium_action if strongest == 1 else cfg.low_action
        if action == "none":
            return None
    lead = max(primary, key=lambda f: (SEVERITY.get(f["severity"], 0), f["score"] or 0, f["detector"], f["metric"]))
    reasons = [
        {"detector": f["detector"], "metric": f["metric"], "value": _num(f["observed"]), "threshold": _num(f["threshold"]),
         "severity": f["severity"]}
        for f in sorted(fs, key=lambda f: (-SEVERITY.get(f["severity"], 0), f["detector"], f["metric"]))
    ]
    first = [f["first_seen"] for f in fs if f["first_seen"]]
    last = [f["last_seen"] for f in fs if f["last_seen"]]
    match = json.loads(lead["match"]) if isinstance(lead["match"], str) else dict(lead["match"])
    if str(match.get("asn", "")).isdigit():
        match["asn"] = int(match["asn"])  # the contract: asn is an integer
    return Decision(
        id=decision_id(scope, value, window), scope=scope, value=value, action=action, match=match, reasons=reasons,
        requests=max(f["requests"] or 0 for f in fs), first_seen=min(first) if first else None,
        last_seen=max(last) if last else None, cost=max(f["cost"] or 0 for f in fs), window=window,
        limit_requests=limit, limit_per_s=BURST_BUCKET_S if limit else None,
    )


def _num(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def _escalate(con: duckdb.DuckDBPyConnection, cfg: DecisionsConfig, decisions: list[Decision], window: Window) -> None:
    """offence_count = 1 + earlier windows in which the entity had an enforced decision; TTL grows with it."""
    history = {(r["scope"], r["value"]): r["n"] for r in dicts(con, """
        SELECT scope, value, count(DISTINCT window_end) AS n FROM decisions
        WHERE window_end < ? AND status = 'active' AND NOT reissued GROUP BY scope, value""", [window.end])}
    for d in decisions:
        d.offence_count = 1 + history.get((d.scope, d.value), 0)
        base = cfg.ttl_s[d.action]
        d.ttl_s = int(min(cfg.max_ttl_s, base * cfg.escalation_factor ** (d.offence_count - 1)))
        d.expires_at = window.end + timedelta(seconds=d.ttl_s)


def _carried_over(con: duckdb.DuckDBPyConnection, fresh: list[Decision], window: Window,
                  allow: allowlists.Allowlist) -> list[Decision]:
    """Decisions of the previous run still active at this window's end and not decided afresh: re-issued,
    unchanged; the ones that ran out are recorded as `expired` so `diff` can report them."""
    last = dicts(con, """SELECT decision_run FROM decision_runs WHERE window_end < ? AND outcome = 'written'
                         ORDER BY window_end DESC LIMIT 1""", [window.end])
    seen = {(d.scope, d.value) for d in fresh}
    out = []
    for d in store.load(con, last[0]["decision_run"]) if last else []:
        if (d.scope, d.value) in seen:
            continue
        d.reissued = True
        if d.expires_at <= window.end:
            d.status, d.status_reason = "expired", f"expired at {d.expires_at:%Y-%m-%d %H:%M:%S}"
        elif why := allow.why(d.scope, d.value, d.match):
            d.status, d.status_reason = "allowlisted", why
        out.append(d)
    return out


def strongest_first(decisions: list[Decision]) -> list[Decision]:
    return sorted(decisions, key=lambda d: (-rank(d.action), -(d.requests or 0), d.sort_key()))
