"""Broad decisions narrowed to the networks where they stop no legitimate-looking traffic.

An ASN or a fingerprint is shared by unrelated callers: a bot farm in a cloud ASN sits next to
paying customers, a scraper's TLS/UA fingerprint next to real browsers. When such a decision
would stop legitimate-looking requests (decisions/legit.py: established tokens, browsing clients),
it is replaced by one decision per network (IPv4 /24, IPv6 /64) of its traffic that carried none:
the ASN becomes cidr decisions, the fingerprint keeps its fields plus `client_ip` = the network.
A broad decision whose traffic has no legitimate-looking request stays as it is (a scraper's own
fingerprint). The broad decision stays in history as `suppressed`, saying what it was narrowed to.
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


def narrow_broad(con: duckdb.DuckDBPyConnection, decisions: list[Decision], window: Window, legit: str) -> list[Decision]:
    broad = [d for d in decisions if d.scope in BROAD and d.status == "active" and d.action in STOPPING and not d.reissued]
    if not broad:
        return []
    matcher = Matcher(con, [Rule(d.id, d.match) for d in broad], name="gw_narrow")
    source = window_source(window.start, window.end)
    per_ip = rows(con, f"""
        SELECT h.rule_id, r.client_ip, count(*) AS n, count(l.req_key) AS clean
        FROM ({matcher.hits_sql(source)}) h JOIN ({source}) r USING (req_key)
        LEFT JOIN {legit} l USING (req_key)
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
        d.status_reason = (f"stops legitimate-looking traffic; narrowed to {len(keep)} network(s) without any"
                           if keep else "stops legitimate-looking traffic in every network it covers")
        for net in keep:
            scope, value = ("cidr", net) if d.scope == "asn" else (d.scope, f"{d.value}@{net}")
            match = {"client_ip": net} if d.scope == "asn" else {**d.match, "client_ip": net}
            out.append(replace(d, id=decision_id(scope, value, window), scope=scope, value=value, match=match,
                               requests=by_net[net][0], status="active", status_reason=f"narrowed from {d.scope} {d.value}"))
    return out


def narrow_stolen_tokens(con: duckdb.DuckDBPyConnection, decisions: list[Decision], window: Window,
                         owners: dict[str, set[str]]) -> list[Decision]:
    """A stolen token's decision narrowed to the networks its thieves use: `{token, client_ip: network}` for every
    network of its traffic that is not one of its owner's established networks (decisions.legit.owner_networks).
    The owner keeps working from home while the customer notice tells them to rotate the key."""
    out = []
    for d in decisions:
        if d.scope != "token" or d.status != "active" or d.action not in STOPPING or d.reissued or not owners.get(d.value):
            continue
        used: dict[str, int] = defaultdict(int)
        for ip, n in rows(con, "SELECT client_ip, count(*) FROM requests WHERE ts >= ? AND ts < ? AND token = ? GROUP BY 1",
                          [window.start, window.end, d.value]):
            if net := network_of(ip) if ip else None:
                used[net] += n
        keep = sorted(net for net in used if net not in owners[d.value])
        if not keep:
            continue  # the thieves share the owner's networks: only the whole token can be stopped
        d.status = "suppressed"
        d.status_reason = (f"stolen credential: narrowed to {len(keep)} network(s) other than the owner's "
                           f"{', '.join(sorted(owners[d.value]))}")
        for net in keep:
            value = f"{d.value}@{net}"
            out.append(replace(d, id=decision_id("token", value, window), value=value, match={**d.match, "client_ip": net},
                               requests=used[net], status="active", status_reason=f"narrowed from token {d.value}"))
    return out
