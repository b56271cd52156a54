"""Customer notices: for each token with an active decision, what happens, why in plain words, and what to do.

One notice per token, however many decisions name it: a stolen key is stopped on each network its
thieves use (`{token, client_ip}` decisions), or everywhere but its owner's networks when they are
many, while its owner keeps working, and the customer needs one message saying so. The words come
from the decisions' reasons (detector, metric, value, threshold), so a notice never says more than
the evidence; a metric with no sentence below gets a literal one.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
from pathlib import Path
from typing import Any

import duckdb

from gatewarden.db import dicts
from gatewarden.enrich.cidr import NETWORK_PREFIX
from gatewarden.files import write_atomic

# metric -> sentence. Placeholders: {value}, {threshold}, {hours}, {metric}.
SENTENCES: dict[str, str] = {
    "nets": "your key was used from {value} different networks within {hours} hours, where keys usually stay within {threshold}",
    "nets_1h": "your key was used from {value} different networks within a single hour (usually at most {threshold})",
    "concurrent_nets_10m": "your key was used from {value} networks at the same time, within 10 minutes",
    "asns": "your key was used from {value} different internet providers within {hours} hours (usually at most {threshold})",
    "countries": "your key was used from {value} countries within {hours} hours (usually at most {threshold})",
    "max_requests_5m": "your key sent {value} requests within 5 minutes, far above its own usual pace of about {threshold}",
    "expired_token_requests": "{value} requests were made with a sign-in token that had already expired",
    "login_attempts": "{value} failed sign-in attempts were made",
    "login_attempts_per_minute": "up to {value} sign-in attempts were made in one minute",
    "refresh_requests": "the token refresh endpoint was called {value} times, far more than clients need",
    "probe_endpoints": "requests went to {value} endpoints that do not exist or are known attack paths",
    "spec_violations": "{value} requests did not follow the published API (unknown paths, methods or parameters)",
    "graphql_max_depth": "GraphQL queries were nested {value} levels deep, where normal clients stay within {threshold}",
    "graphql_max_aliases": "GraphQL queries carried {value} aliases, where normal clients stay within {threshold}",
    "graphql_max_fields": "GraphQL queries asked for {value} fields, where normal clients stay within {threshold}",
    "precedence_violations": "expensive calls were made without the steps that normally come before them",
    "sequence_surprise": "the order of calls was unlike any normal client's",
    "timing_regularity": "requests arrived at machine-regular intervals",
}
# Supporting signals are not evidence a customer can act on, so they are not worded.
UNWORDED = {"isolation_score"}
STOLEN = {"nets", "nets_1h", "concurrent_nets_10m", "asns", "countries", "expired_token_requests"}
ACTION_RANK = {"block": 3, "challenge": 2, "throttle": 1}


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.2g}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def sentence(reason: dict[str, Any], hours: float) -> str | None:
    metric = str(reason.get("metric", ""))
    if metric in UNWORDED:
        return None
    fields = {"metric": metric.replace("_", " "), "value": _num(reason.get("value")), "hours": _num(round(hours)),
              "threshold": _num(reason.get("threshold")) if reason.get("threshold") is not None else "the usual level"}
    return SENTENCES.get(metric, "{metric} was {value}, above {threshold}").format(**fields)


def next_step(action: str, stolen: bool, networks: int, per_minute: float | None, support: str,
              outside_yours: bool = False) -> str:
    if stolen:
        where = (" everywhere except the networks you normally use it from" if outside_yours
                 else f" on the {_networks(networks)} it was misused from" if networks else "")
        return (f"Your key looks stolen: we stopped it{where}. Rotate the key now, revoke the old one and check where it "
                "was stored or shared (code, CI logs, client apps).")
    if action == "throttle":
        rate = f"{_num(per_minute)} requests per minute" if per_minute else "the documented rate limit"
        return f"Slow down to at most {rate}, spread requests evenly and retry with backoff on HTTP 429."
    if action == "challenge":
        return f"Use the official SDK or a browser session; if this traffic is yours and automated on purpose, contact {support}."
    return f"Contact {support} with this notice to review the block."


def build_notices(con: duckdb.DuckDBPyConnection, decision_run: str | None, support: str) -> list[dict[str, Any]]:
    if decision_run is None:
        return []
    by_token: dict[str, list[dict[str, Any]]] = {}
    for d in dicts(con, """
            SELECT json_extract_string(match, '$.token') AS token, json_extract_string(match, '$.client_ip') AS network,
                   action, reasons, window_start, window_end, expires_at, offence_count, limit_requests, limit_per_s
            FROM decisions
            WHERE decision_run = ? AND status = 'active' AND json_extract_string(match, '$.token') IS NOT NULL
            ORDER BY token, network NULLS FIRST""", [decision_run]):
        by_token.setdefault(d["token"], []).append(d)
    return [_notice(token, decisions, support) for token, decisions in sorted(by_token.items())]


def _notice(token: str, decisions: list[dict[str, Any]], support: str) -> dict[str, Any]:
    strongest = max(decisions, key=lambda d: (ACTION_RANK.get(d["action"], 0), d["expires_at"]))
    reasons = [r for d in decisions for r in (json.loads(d["reasons"]) if isinstance(d["reasons"], str) else d["reasons"] or [])]
    hours = (strongest["window_end"] - strongest["window_start"]).total_seconds() / 3600
    said = [s for s in dict.fromkeys(sentence(r, hours) for r in reasons) if s]
    reason = "; ".join(said) if said else "our abuse checks flagged this key"
    offences = max(d["offence_count"] or 1 for d in decisions)
    repeat = f" This is offence number {offences}, so the measure lasts longer." if offences > 1 else ""
    networks = sum(1 for d in decisions if d["network"])
    # Address ranges wider than one network: a key resold through many networks is stopped everywhere but its owner's.
    outside_yours = any(_wider_than_one_network(d["network"]) for d in decisions if d["network"])
    stolen = networks > 0 or any(r.get("metric") in STOLEN for r in reasons)
    per_minute = (strongest["limit_requests"] * 60 / strongest["limit_per_s"]
                  if strongest["limit_requests"] and strongest["limit_per_s"] else None)
    return {
        "token": token,
        "action": strongest["action"] + (" outside your own networks" if outside_yours
                                         else f" on {_networks(networks)}" if networks else ""),
        "reason": reason[0].upper() + reason[1:] + "." + repeat,
        "window_start": strongest["window_start"].isoformat(),
        "window_end": strongest["window_end"].isoformat(),
        "expires_at": max(d["expires_at"] for d in decisions).isoformat() if strongest["expires_at"] else None,
        "next_step": next_step(strongest["action"], stolen, networks, per_minute, support, outside_yours),
    }


def _networks(n: int) -> str:
    return f"{n:,} network" + ("" if n == 1 else "s")


def _wider_than_one_network(cidr: str) -> bool:
    net = ipaddress.ip_network(cidr, strict=False)
    return net.prefixlen < NETWORK_PREFIX[net.version]


def write_notices(notices: list[dict[str, Any]], out_dir: Path) -> tuple[Path, Path]:
    fields = ["token", "action", "reason", "window_start", "window_end", "expires_at", "next_step"]
    csv_path, json_path = out_dir / "notices.csv", out_dir / "notices.json"
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(notices)
    write_atomic(csv_path, table.getvalue())
    write_atomic(json_path, json.dumps(notices, indent=2, ensure_ascii=False) + "\n")
    return csv_path, json_path
