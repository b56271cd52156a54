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

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime

import duckdb

from gatewarden.db import rows
from gatewarden.decisions.model import Decision, decision_id
from gatewarden.detectors.base import Window
from gatewarden.replay import STOPPING, Matcher, Rule, window_source

BROAD = ("asn", "fingerprint")


@dataclass(frozen=True)
class NetworkUse:
    """A decision's traffic within one network: its own evidence once the decision is narrowed to it."""

    requests: int
    clean: int  # legitimate-looking requests among them
    first_seen: datetime
    last_seen: datetime

    def narrowed(self, d: Decision, **changes) -> Decision:
        # Cost per network is the entity's cost in proportion to the requests it sent from there.
        cost = round(d.cost * self.requests / d.requests, 6) if d.requests else 0.0
        return replace(d, requests=self.requests, cost=cost, first_seen=self.first_seen, last_seen=self.last_seen,
                       status="active", **changes)


def narrow_broad(con: duckdb.DuckDBPyConnection, decisions: list[Decision], window: Window, legit: str) -> list[Decision]:
    broad = [d for d in decisions if d.scope in BROAD and d.status == "active" and d.action in STOPPING and not d.reissued]
    if not broad:
        return []
    matcher = Matcher(con, [Rule(d.id, d.match) for d in broad], name="gw_narrow")
    source = window_source(window.start, window.end)
    nets: dict[str, dict[str, NetworkUse]] = defaultdict(dict)
    for rule_id, net, n, clean, first, last in rows(con, f"""
            SELECT h.rule_id, gw_net(r.client_ip, r.ip_num) AS net, count(*), count(l.req_key), min(r.ts), max(r.ts)
            FROM ({matcher.hits_sql(source)}) h JOIN ({source}) r USING (req_key)
            LEFT JOIN {legit} l USING (req_key)
            WHERE gw_net(r.client_ip, r.ip_num) IS NOT NULL
            GROUP BY ALL"""):
        nets[rule_id][net] = NetworkUse(n, clean, first, last)
    out = []
    for d in broad:
        by_net = nets.get(d.id, {})
        if not any(use.clean for use in by_net.values()):
            continue
        keep = sorted(net for net, use in by_net.items() if use.clean == 0)
        d.status = "suppressed"
        d.status_reason = (f"stops legitimate-looking traffic; narrowed to {len(keep)} network(s) without any"
                           if keep else "stops legitimate-looking traffic in every network it covers")
        for net in keep:
            scope, value = ("cidr", net) if d.scope == "asn" else (d.scope, f"{d.value}@{net}")
            match = {"client_ip": net} if d.scope == "asn" else {**d.match, "client_ip": net}
            out.append(by_net[net].narrowed(d, id=decision_id(scope, value, window), scope=scope, value=value, match=match,
                                            status_reason=f"narrowed from {d.scope} {d.value}"))
    return out


def narrow_stolen_tokens(con: duckdb.DuckDBPyConnection, decisions: list[Decision], window: Window,
                         owners: dict[str, set[str]]) -> list[Decision]:
    """A stolen token's decision narrowed to the networks its thieves use: `{token, client_ip: network}` for every
    network of its traffic that is not one of its owner's established networks (decisions.legit.owner_networks).
    The owner keeps working from home while the customer notice tells them to rotate the key."""
    stolen = [d for d in decisions
              if d.scope == "token" and d.status == "active" and d.action in STOPPING and not d.reissued and owners.get(d.value)]
    if not stolen:
        return []
    networks: dict[str, dict[str, NetworkUse]] = defaultdict(dict)
    for token, net, n, first, last in rows(con, """
            SELECT token, gw_net(client_ip, ip_num) AS net, count(*), min(ts), max(ts) FROM requests
            WHERE ts >= ? AND ts < ? AND token IN (SELECT unnest(CAST(? AS VARCHAR[]))) AND gw_net(client_ip, ip_num) IS NOT NULL
            GROUP BY 1, 2""", [window.start, window.end, sorted({d.value for d in stolen})]):
        networks[token][net] = NetworkUse(n, 0, first, last)
    out = []
    for d in stolen:
        used = networks[d.value]
        keep = sorted(net for net in used if net not in owners[d.value])
        if not keep:
            continue  # the thieves share the owner's networks: only the whole token can be stopped
        d.status = "suppressed"
        d.status_reason = (f"stolen credential: narrowed to {len(keep)} network(s) other than the owner's "
                           f"{', '.join(sorted(owners[d.value]))}")
        for net in keep:
            value = f"{d.value}@{net}"
            out.append(used[net].narrowed(d, id=decision_id("token", value, window), value=value,
                                          match={**d.match, "client_ip": net}, status_reason=f"narrowed from token {d.value}"))
    return out
