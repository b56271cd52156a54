"""Customer notices: for each token with an active decision, what happens, why in plain words, and what to do.

The words are generated from the decision's reasons (detector, metric, value, threshold), so a
notice never says more than the evidence: a metric with no phrase below gets a literal sentence.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import duckdb

from gatewarden.db import dicts

# (metric pattern, sentence). Placeholders: {value}, {threshold}, {hours}.
PHRASES: tuple[tuple[str, str], ...] = (
    (r"(asn|network)s?", "your key was used from {value} different networks within {hours} hours, where keys usually stay in {threshold}"),
    (r"ips?($|_)|distinct_ip|client_ip", "your key was used from {value} IP addresses within {hours} hours, which usually means it leaked"),
    (r"(fingerprint|device)", "your key was used by {value} different client fingerprints within {hours} hours"),
    (r"(token|key)s?_per|distinct_token|rotation", "{value} different keys were used from the same source within {hours} hours, "
                                                   "which looks like keys being rotated to dodge limits"),
    (r"(login|auth|401|credential)", "{value} failed sign-in attempts were made within {hours} hours"),
    (r"(depth|alias|complexity|graphql)", "GraphQL queries reached {metric} {value}, far above the {threshold} normal clients send"),
    (r"(404|probe|probing|unknown_endpoint|not_found)", "requests were made to {value} endpoints that do not exist, which looks like "
                                                        "scanning"),
    (r"(burst|rate|per_min|rpm|quota|requests)", "traffic peaked at {value} ({metric}), above the {threshold} limit for this key"),
    (r"(automat|bot|headless|interval|timing)", "requests looked automated ({metric} {value}, usual at most {threshold})"),
)


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.2g}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def sentence(reason: dict[str, Any], hours: float) -> str:
    metric = str(reason.get("metric", ""))
    fields = {"metric": metric.replace("_", " "), "value": _num(reason.get("value")), "hours": _num(round(hours)),
              "threshold": _num(reason.get("threshold")) if reason.get("threshold") is not None else "the usual level"}
    for pattern, text in PHRASES:
        if re.search(pattern, metric, re.IGNORECASE):
            return text.format(**fields)
    return f"{fields['metric']} was {fields['value']}, above {fields['threshold']}"


def next_step(action: str, reasons: list[dict[str, Any]], per_minute: float | None, support: str) -> str:
    metrics = " ".join(str(r.get("metric", "")) for r in reasons).lower()
    leaked = bool(re.search(r"ips?($|_|\s)|distinct_ip|asn|network|fingerprint", metrics))
    if leaked:
        step = "Rotate the key now, revoke the old one and check where it was stored or shared (code, CI logs, client apps)."
        return step if action != "block" else step + f" Then contact {support} to lift the block."
    if action == "throttle":
        rate = f"{per_minute:,.0f} requests per minute" if per_minute else "the documented rate limit"
        return f"Slow down to at most {rate}, spread requests evenly and retry with backoff on HTTP 429."
    if action == "challenge":
        return f"Use the official SDK or a browser session; if this traffic is yours and automated on purpose, contact {support}."
    return f"Contact {support} with this notice to review the block."


def build_notices(con: duckdb.DuckDBPyConnection, decision_run: str | None, support: str) -> list[dict[str, Any]]:
    if decision_run is None:
        return []
    notices = []
    for d in dicts(con, """
            SELECT value AS token, action, reasons, window_start, window_end, expires_at, offence_count, limit_requests, limit_per_s
            FROM decisions WHERE decision_run = ? AND status = 'active' AND scope = 'token' ORDER BY value""", [decision_run]):
        reasons = json.loads(d["reasons"]) if isinstance(d["reasons"], str) else list(d["reasons"] or [])
        hours = (d["window_end"] - d["window_start"]).total_seconds() / 3600
        per_minute = d["limit_requests"] * 60 / d["limit_per_s"] if d["limit_requests"] and d["limit_per_s"] else None
        said = list(dict.fromkeys(sentence(r, hours) for r in reasons))
        reason = "; ".join(said) if said else "our abuse checks flagged this key"
        repeat = f" This is offence number {d['offence_count']}, so the measure lasts longer." if (d["offence_count"] or 1) > 1 else ""
        notices.append({
            "token": d["token"],
            "action": d["action"],
            "reason": reason[0].upper() + reason[1:] + "." + repeat,
            "window_start": d["window_start"].isoformat(),
            "window_end": d["window_end"].isoformat(),
            "expires_at": d["expires_at"].isoformat() if d["expires_at"] else None,
            "next_step": next_step(d["action"], reasons, per_minute, support),
        })
    return notices


def write_notices(notices: list[dict[str, Any]], out_dir: Path) -> tuple[Path, Path]:
    fields = ["token", "action", "reason", "window_start", "window_end", "expires_at", "next_step"]
    csv_path, json_path = out_dir / "notices.csv", out_dir / "notices.json"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(notices)
    json_path.write_text(json.dumps(notices, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return csv_path, json_path
