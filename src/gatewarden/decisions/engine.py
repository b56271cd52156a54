"""decide + emit: findings of a window -> decisions, safety valve, history, gateway files.

Everything written depends only on the database and the config (no wall clock), so the same
input and config give byte-identical files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from gatewarden import ratelimits
from gatewarden.config import Config
from gatewarden.db import dicts, scalar
from gatewarden.decisions import legit, policy, safety, store
from gatewarden.decisions.model import Decision
from gatewarden.detectors.base import Window
from gatewarden.emitters import Context, render_all, write_all
from gatewarden.errors import GatewardenError, SafetyValveTripped
from gatewarden.features import has_window
from gatewarden.files import write_atomic
from gatewarden.ops.state import record_published_limits, smooth_published_limits


@dataclass
class DecideResult:
    run_id: str
    window: Window
    decisions: list[Decision]
    impact: safety.CleanImpact
    files: list[Path]


def latest_window(con: duckdb.DuckDBPyConnection) -> Window:
    row = dicts(con, "SELECT window_start, window_end FROM analysis_runs ORDER BY window_end DESC, finished_at DESC LIMIT 1")
    if not row:
        raise GatewardenError("No analysis has run on this database yet.", "Run `gatewarden analyze` (or `gatewarden run`) first.")
    return Window(row[0]["window_start"], row[0]["window_end"])


def run_decisions(con: duckdb.DuckDBPyConnection, cfg: Config, window: Window, out_dir: Path,
                  reuse_win: bool = False) -> DecideResult:
    """Set `reuse_win` when the temp table `win` holds this window's features (analysis ran on `con`)."""
    started = datetime.now()
    dc = cfg.decisions
    # Same window, config and findings -> same run (a re-run replaces itself); new findings -> a new run in the history.
    evidence = scalar(con, """SELECT coalesce(string_agg(concat_ws('|', finding_id, severity, observed, CAST(match AS VARCHAR)), ','
                                                         ORDER BY finding_id), '')
                              FROM findings WHERE window_start = ? AND window_end = ?""", [window.start, window.end])
    basis = f"{window.start}|{window.end}|{dc.model_dump_json()}|{evidence}"
    run_id = hashlib.blake2b(basis.encode(), digest_size=8).hexdigest()
    legit.build(con, window, dc.supporting_detectors, from_win=reuse_win and has_window(con))
    limits = ratelimits.recommend(con, cfg.database, window, "gw_legit", dc.rate_limit_headroom, dc.rate_limit_min_entities)
    # Published limits move smoothly from last night's (EWMA, bounded change); throttles and the backtest use the published ones.
    day = (window.end - timedelta(microseconds=1)).date()
    limits = smooth_published_limits(con, limits, day, cfg.operations)
    ratelimits.backtest(con, limits)
    ratelimits.release(con)
    decisions = policy.decide(con, dc, window, ratelimits.per_minute_by_scope(limits), "gw_legit")
    impact = safety.clean_impact(con, decisions, window, "gw_legit")
    active = [d for d in decisions if d.status == "active"]
    run = {
        "decision_run": run_id, "window_start": window.start, "window_end": window.end, "generated_at": window.end,
        "findings": scalar(con, "SELECT count(*) FROM findings WHERE window_start = ? AND window_end = ?", [window.start, window.end]),
        "active": len(active), "blocks": sum(d.action == "block" for d in active),
        "challenges": sum(d.action == "challenge" for d in active), "throttles": sum(d.action == "throttle" for d in active),
        "allowlisted": sum(d.status == "allowlisted" for d in decisions),
        "suppressed": sum(d.status == "suppressed" for d in decisions),
        "clean_requests_hit": impact.requests_hit, "clean_share": impact.request_share,
        "clean_tokens_hit": impact.tokens_hit, "clean_token_share": impact.token_share,
        "outcome": "written", "out_dir": str(out_dir), "started_at": started, "safety_limit": dc.safety_max_clean_share,
    }
    try:
        safety.check(impact, dc.safety_max_clean_share)
    except SafetyValveTripped:
        # Only the run is recorded: decisions that were never published are no offence and no history.
        store.save(con, run_id, window, [], {**run, "outcome": "safety_valve", "finished_at": datetime.now()})
        raise
    doc = store.document(decisions, window)
    limits_doc = {"generated_at": doc["generated_at"], "window": doc["window"], "statistic": ratelimits.STATISTIC,
                  "population": "legitimate-looking traffic (decisions/legit.py)", "headroom": dc.rate_limit_headroom,
                  "limits": limits}
    previous = store.previous_document(con, window)
    files = render_all(Context(doc, limits_doc, previous))
    written = write_all(out_dir, files)
    # decisions.json last: a consumer watching it sees every other file already current.
    write_atomic(Path(out_dir) / "rate_limits.json", store.dumps(limits_doc))
    write_atomic(Path(out_dir) / "decisions.json", store.dumps(doc))
    store.save(con, run_id, window, decisions, {**run, "finished_at": datetime.now()})
    record_published_limits(con, limits, day)
    return DecideResult(run_id, window, decisions, impact, [*written, Path(out_dir) / "rate_limits.json", Path(out_dir) / "decisions.json"])
