"""Address decisions grouped into networks: IPv6 per /64, and IPv4 /24s that misbehave as a whole.

An IPv6 client rotates freely inside its /64 (one subscriber, one allocation), so an IPv6
address decision is widened to its /64. An IPv4 /24 becomes one cidr decision only when at
least `merge_ipv4_min_ips` of its addresses have decisions and no other address of the /24 sent
any traffic in the window: the merge then stops nobody the per-address decisions would not.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict

import duckdb

from gatewarden.db import rows
from gatewarden.decisions.model import Decision, decision_id, rank
from gatewarden.detectors.base import Window
from gatewarden.replay import ip_range


def merge_networks(con: duckdb.DuckDBPyConnection, decisions: list[Decision], window: Window, min_ips: int) -> list[Decision]:
    """New cidr decisions; the merged address decisions are marked `suppressed` in place."""
    groups: dict[str, list[Decision]] = defaultdict(list)
    for d in decisions:
        if d.scope != "ip" or d.status != "active":
            continue
        try:
            addr = ipaddress.ip_address(d.value)
        except ValueError:
            continue
        prefix = 64 if addr.version == 6 else 24
        groups[str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))].append(d)
    existing = {d.value for d in decisions if d.scope == "cidr"}
    merged = []
    for net, members in sorted(groups.items()):
        if net in existing:
            for m in members:
                m.status, m.status_reason = "suppressed", f"covered by cidr decision {net}"
            continue
        v6 = ":" in net
        if not v6 and (len(members) < min_ips or _clean_addresses(con, net, {m.value for m in members}, window)):
            continue
        merged.append(_combine(net, members, window))
    return merged


def _clean_addresses(con: duckdb.DuckDBPyConnection, net: str, decided: set[str], window: Window) -> int:
    lo, hi = ip_range(net)
    others = rows(con, """SELECT DISTINCT client_ip FROM requests
                          WHERE ts >= ? AND ts < ? AND ip_num BETWEEN CAST(? AS UHUGEINT) AND CAST(? AS UHUGEINT)""",
                  [window.start, window.end, str(lo), str(hi)])
    return sum(1 for (ip,) in others if ip not in decided)


def _combine(net: str, members: list[Decision], window: Window) -> Decision:
    # The weakest member action: a network decision never acts harder than the evidence of every member.
    action = min((m.action for m in members), key=rank)
    reasons: dict[tuple, dict] = {}
    for m in members:
        for r in m.reasons:
            key = (r["detector"], r["metric"])
            if key not in reasons or (r["value"] or 0) > (reasons[key]["value"] or 0):
                reasons[key] = r
    for m in members:
        m.status, m.status_reason = "suppressed", f"merged into cidr decision {net}"
    first = [m.first_seen for m in members if m.first_seen]
    last = [m.last_seen for m in members if m.last_seen]
    return Decision(
        id=decision_id("cidr", net, window), scope="cidr", value=net, action=action, match={"client_ip": net},
        reasons=[reasons[k] for k in sorted(reasons)], requests=sum(m.requests or 0 for m in members),
        first_seen=min(first) if first else None, last_seen=max(last) if last else None,
        cost=sum(m.cost or 0 for m in members), window=window, members=sorted(m.value for m in members),
    )
