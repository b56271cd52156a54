"""Broad decisions narrowed to the networks where they stop no clean traffic.

An ASN or a fingerprint is shared by unrelated callers: a bot farm in a cloud ASN sits next to
paying customers, a scraper's TLS/UA fingerprint next to real browsers. When such a decision
would stop clean requests (requests no entity finding selects), it is replaced by one decision
per network (IPv4 /24, IPv6 /64) of its traffic that carried no clean request: the ASN becomes
cidr decisions, the fingerprint keeps its fields plus `client_ip` = the network. The broad
decision stays in history as `suppressed`, saying what it was narrowed to.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import replace

import duckdb

from gatewarden.db import rows
from gatewarden.decisions.model import Decision, decision_id
from gatewarden.detectors.base import Window
from gatewarden.replay import STOPPING, Matcher, Rule, window_source

BROAD = ("asn", "fingerprint")


def network_of(ip: str) -> str | None:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    return str(ipaddress.ip_network(f"{addr}/{24 if addr.version == 4 else 64}", strict=False))


def narrow_broad(con: duckdb.DuckDBPyConnection, decisions: list[Decision], window: Window, flagged: str) -> list[Decision]:
    broad = [d for d in decisions if d.scope in BROAD and d.status == "active" and d.action in STOPPING and not d.reissued]
    if not broad:
        return []
    matcher = Matcher(con, [Rule(d.id, d.match) for d in broad], name="gw_narrow")
    source = window_source(window.start, window.end)
    per_ip = rows(con, f"""
        SELECT h.rule_id, r.client_ip, count(*) AS n, count(*) FILTER (WHERE f.req_key IS NULL) AS clean
        FROM ({matcher.hits_sql(source)}) h JOIN ({source}) r USING (req_key)
        LEFT JOIN {flagged} f USING (req_key)
        GROUP BY ALL""")
    nets: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for rule_id, ip, n, clean in per_ip:
        net = network_of(ip) if ip else None
        if net:
            nets[rule_id][net][0] += n
            nets[rule_id][net][1] += clean
    out = []
    for d in broad:
        by_net = nets.get(d.id, {})
        if not any(clean for _, clean in by_net.values()):
            continue
        keep = sorted(net for net, (_, clean) in by_net.items() if clean == 0)
        d.status = "suppressed"
        d.status_reason = (f"stops clean traffic; narrowed to {len(keep)} network(s) without clean requests"
                           if keep else "stops clean traffic in every network it covers")
        for net in keep:
            scope, value = ("cidr", net) if d.scope == "asn" else (d.scope, f"{d.value}@{net}")
            match = {"client_ip": net} if d.scope == "asn" else {**d.match, "client_ip": net}
            out.append(replace(d, id=decision_id(scope, value, window), scope=scope, value=value, match=match,
                               requests=by_net[net][0], status="active", status_reason=f"narrowed from {d.scope} {d.value}"))
    return out
