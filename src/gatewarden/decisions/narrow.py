"""Broad decisions narrowed to the networks where they stop no legitimate-looking traffic.

An ASN or a fingerprint is shared by unrelated callers: a bot farm in a cloud ASN sits next to
paying customers, a scraper's TLS/UA fingerprint next to real browsers. When such a decision
would stop legitimate-looking requests (decisions/legit.py: established tokens, browsing clients),
it is replaced by one decision per network (IPv4 /24, IPv6 /64) of its traffic that carried none:
the ASN becomes cidr decisions, the fingerprint keeps its fields plus `client_ip` = the network.
A broad decision whose traffic has no legitimate-looking request stays as it is (a scraper's own
fingerprint). The broad decision stays in history as `suppressed`, saying what it was narrowed to.
A fingerprint spread over more networks than there are address ranges around its legitimate-looking
ones is narrowed to those ranges instead (its rules still name the fingerprint, so a range stops no
one else); an ASN always gets one cidr per network, since a cidr rule names nothing else.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime

import duckdb

from gatewarden.db import rows
from gatewarden.decisions.model import Decision, decision_id
from gatewarden.detectors.base import Window
from gatewarden.enrich.ip import IPV4_MAPPED_BASE
from gatewarden.replay import STOPPING, Matcher, Rule, window_source

BROAD = ("asn", "fingerprint")
IPV4_MAPPED = ipaddress.IPv6Network((IPV4_MAPPED_BASE, 96))


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

    def __add__(self, other: NetworkUse) -> NetworkUse:
        return NetworkUse(self.requests + other.requests, self.clean + other.clean,
                          min(self.first_seen, other.first_seen), max(self.last_seen, other.last_seen))


def narrow_broad(con: duckdb.DuckDBPyConnection, decisions: list[Decision], window: Window, legit: str) -> list[Decision]:
    broad = [d for d in decisions if d.scope in BROAD and d.status == "active" and d.action in STOPPING and not d.reissued]
    if not broad:
        return []
    matcher = Matcher(con, [Rule(d.id, d.match) for d in broad], name="gw_narrow")
    source = window_source(window.start, window.end)
    nets: dict[str, dict[str, NetworkUse]] = defaultdict(dict)
    # Networks per distinct address, not per request: formatting a network (gw_net) is the costly part.
    for rule_id, net, n, clean, first, last in rows(con, f"""
            SELECT rule_id, gw_net(client_ip, ip_num) AS net, CAST(sum(n) AS BIGINT), CAST(sum(clean) AS BIGINT), min(first), max(last)
            FROM (SELECT h.rule_id, r.client_ip, any_value(r.ip_num) AS ip_num, count(*) AS n, count(l.req_key) AS clean,
                         min(r.ts) AS first, max(r.ts) AS last
                  FROM ({matcher.hits_sql(source)}) h JOIN ({source}) r USING (req_key)
                  LEFT JOIN {legit} l USING (req_key)
                  WHERE r.ip_num IS NOT NULL GROUP BY h.rule_id, r.client_ip)
            GROUP BY ALL"""):
        nets[rule_id][net] = NetworkUse(n, clean, first, last)
    out = []
    for d in broad:
        by_net = nets.get(d.id, {})
        if not any(use.clean for use in by_net.values()):
            continue
        keep = {net: use for net, use in by_net.items() if use.clean == 0}
        # A fingerprint's rules also name it, so a range stops nobody else. (An ASN's cidr rules name nothing else.)
        targets = fewest_rules(keep, {net for net, use in by_net.items() if use.clean}) if d.scope == "fingerprint" else keep
        d.status = "suppressed"
        d.status_reason = (f"stops legitimate-looking traffic; narrowed to {len(targets)} network(s) without any"
                           + (f" (the address ranges holding its {len(keep)} such networks)" if targets is not keep else "")
                           if keep else "stops legitimate-looking traffic in every network it covers")
        for net in sorted(targets):
            scope, value = ("cidr", net) if d.scope == "asn" else (d.scope, f"{d.value}@{net}")
            match = {"client_ip": net} if d.scope == "asn" else {**d.match, "client_ip": net}
            out.append(targets[net].narrowed(d, id=decision_id(scope, value, window), scope=scope, value=value, match=match,
                                             status_reason=f"narrowed from {d.scope} {d.value}"))
    return out


def narrow_stolen_tokens(con: duckdb.DuckDBPyConnection, decisions: list[Decision], window: Window,
                         owners: dict[str, set[str]]) -> list[Decision]:
    """A stolen token's decision narrowed to the networks its thieves use: `{token, client_ip: network}` for every
    network of its traffic that is not one of its owner's established networks (decisions.legit.owner_networks).
    The owner keeps working from home while the customer notice tells them to rotate the key.

    A key resold through proxies is used from thousands of networks; one rule each would flood the gateway. Thieves
    in more networks than there are ranges making up the address space without the owner's networks (24 around each
    IPv4 /24, 96 + 64 per /64 for IPv6) are stopped by those of the ranges that hold their traffic instead (typically
    a handful): the token then works only from the owner's networks."""
    stolen = [d for d in decisions
              if d.scope == "token" and d.status == "active" and d.action in STOPPING and not d.reissued and owners.get(d.value)]
    if not stolen:
        return []
    networks: dict[str, dict[str, NetworkUse]] = defaultdict(dict)
    for token, net, n, first, last in rows(con, """
            SELECT token, gw_net(client_ip, ip_num) AS net, CAST(sum(n) AS BIGINT), min(first), max(last)
            FROM (SELECT token, client_ip, any_value(ip_num) AS ip_num, count(*) AS n, min(ts) AS first, max(ts) AS last
                  FROM requests WHERE ts >= ? AND ts < ? AND token IN (SELECT unnest(CAST(? AS VARCHAR[]))) AND ip_num IS NOT NULL
                  GROUP BY token, client_ip)
            GROUP BY ALL""", [window.start, window.end, sorted({d.value for d in stolen})]):
        networks[token][net] = NetworkUse(n, 0, first, last)
    out = []
    for d in stolen:
        used = networks[d.value]
        thieves = {net: use for net, use in used.items() if net not in owners[d.value]}
        if not thieves:
            continue  # the thieves share the owner's networks: only the whole token can be stopped
        targets = fewest_rules(thieves, owners[d.value])
        d.status = "suppressed"
        d.status_reason = (f"stolen credential: narrowed to {len(targets)} network(s) other than the owner's "
                           f"{', '.join(sorted(owners[d.value]))}"
                           + (f": the address ranges holding its thieves' {len(thieves)} networks" if targets is not thieves else ""))
        for net in sorted(targets):
            value = f"{d.value}@{net}"
            out.append(targets[net].narrowed(d, id=decision_id("token", value, window), value=value,
                                             match={**d.match, "client_ip": net}, status_reason=f"narrowed from token {d.value}"))
    return out


def address_space_without(excluded: set[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The fewest CIDR ranges making up all IPv4 and IPv6 addresses except the `excluded` networks, in address order.
    IPv6 leaves out ::ffff:0:0/96, where the replay's address axis (and ip_num) holds the IPv4 addresses."""
    nets = [ipaddress.ip_network(n) for n in excluded] + [IPV4_MAPPED]
    ranges: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for version, address in ((4, ipaddress.IPv4Address), (6, ipaddress.IPv6Address)):
        cuts = sorted((int(n.network_address), int(n.broadcast_address)) for n in nets if n.version == version)
        cursor, last = 0, (1 << (32 if version == 4 else 128)) - 1
        for start, end in cuts:  # each gap between excluded networks, as the aligned blocks that tile it
            if start > cursor:
                ranges += ipaddress.summarize_address_range(address(cursor), address(start - 1))
            cursor = max(cursor, end + 1)
        if cursor <= last:
            ranges += ipaddress.summarize_address_range(address(cursor), address(last))
    return ranges


# Excluding /24s and /64s splits ranges, so the space without them takes at least as many as the whole of it (IPv4,
# and IPv6 without its IPv4-mapped block), unless one swallows whole ranges (::/64 holds the mapped block): up to
# this many networks are narrowed one by one without computing the ranges.
FEWEST_RANGES = len(address_space_without(set()))


def fewest_rules(uses: dict[str, NetworkUse], spared: set[str]) -> dict[str, NetworkUse]:
    """`uses` (network -> evidence) as they are, one rule per network, or summed by the address ranges that make up the
    space without the `spared` networks when those take fewer rules; the same object when nothing is grouped."""
    if len(uses) <= FEWEST_RANGES:
        return uses
    ranges = address_space_without(spared)
    return uses if len(uses) <= len(ranges) else grouped_by_range(ranges, uses)


def grouped_by_range(ranges: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
                     uses: dict[str, NetworkUse]) -> dict[str, NetworkUse]:
    """`uses` (network -> evidence) summed by the range of `ranges` holding each network; ranges holding none are left out."""
    starts = [(r.version, int(r.network_address)) for r in ranges]
    grouped: dict[str, NetworkUse] = {}
    for net, use in uses.items():
        n = ipaddress.ip_network(net)
        # The ranges are disjoint and in order, so the one holding `n` is the last starting at or before it.
        key = str(ranges[bisect_right(starts, (n.version, int(n.network_address))) - 1])
        grouped[key] = grouped[key] + use if key in grouped else use
    return grouped
