"""Allowlists always win: addresses and CIDRs, ASNs, tokens and verified crawlers.

A verified crawler is trusted only when its User-Agent matches AND its address lies in the
crawler's published ranges or ASNs, so a scraper that merely claims to be Googlebot stays exposed.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

import duckdb

from gatewarden.db import rows
from gatewarden.decisions.config import AllowlistConfig, VerifiedCrawler
from gatewarden.detectors.base import Window
from gatewarden.enrich.crawlers import verified_crawlers
from gatewarden.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class Allowlist:
    networks: list[tuple[Network, str]] = field(default_factory=list)  # (network, why)
    asns: dict[int, str] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    crawlers: list[VerifiedCrawler] = field(default_factory=list)
    crawler_ips: dict[str, str] = field(default_factory=dict)  # verified crawler address seen in the window -> crawler name

    def why(self, scope: str, value: str, match: dict) -> str | None:
        """The allowlist entry covering a decision, or None."""
        if scope in ("ip", "cidr"):
            net = _network(value)
            if net is None:
                return None
            for allowed, why in self.networks:
                if allowed.version == net.version and (allowed.overlaps(net)):
                    return why
            for ip, crawler in self.crawler_ips.items():
                addr = ipaddress.ip_address(ip)
                if addr.version == net.version and addr in net:
                    return f"verified crawler {crawler} ({ip})"
        if scope == "asn" and value.isdigit() and int(value) in self.asns:
            return self.asns[int(value)]
        if scope == "token" and value in self.tokens:
            return f"allowlisted token {value}"
        ua = match.get("user_agent")
        if ua:
            for crawler in self.crawlers:
                if re.search(crawler.user_agent, str(ua), re.IGNORECASE) and "client_ip" not in match:
                    return f"user agent of verified crawler {crawler.name}"
        return None


def _network(text: str) -> Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def build(con: duckdb.DuckDBPyConnection, cfg: AllowlistConfig, window: Window) -> Allowlist:
    allow = Allowlist(tokens=set(cfg.tokens), crawlers=list(cfg.crawlers))
    for entry in cfg.ips:
        net = _network(entry)
        if net is None:
            raise ConfigError(f"decisions.allowlist.ips entry {entry!r} is not an IP address or CIDR.",
                              "Write addresses like 203.0.113.7 or ranges like 203.0.113.0/24, 2001:db8::/48.")
        allow.networks.append((net, f"allowlisted {entry}"))
    for asn in cfg.asns:
        allow.asns[asn] = f"allowlisted AS{asn}"
    if cfg.use_bundled_crawlers:
        allow.crawler_ips.update(_bundled_verified_ips(con, window))
    for crawler in allow.crawlers:
        for asn in crawler.asns:
            allow.asns.setdefault(asn, f"network of verified crawler {crawler.name} (AS{asn})")
        allow.crawler_ips.update(_verified_ips(con, crawler, window))
    return allow


def _verified_ips(con: duckdb.DuckDBPyConnection, crawler: VerifiedCrawler, window: Window) -> dict[str, str]:
    """Addresses of the window whose requests carry the crawler's UA and come from its ranges or ASNs."""
    try:
        re.compile(crawler.user_agent)
    except re.error as exc:
        raise ConfigError(f"Verified crawler {crawler.name}: user_agent regex is invalid ({exc}).", "Fix the regex.") from None
    claimed = rows(con, """SELECT DISTINCT client_ip, asn FROM requests
                           WHERE ts >= ? AND ts < ? AND regexp_matches(user_agent, ?, 'i') AND client_ip IS NOT NULL""",
                   [window.start, window.end, crawler.user_agent])
    ranges = [n for n in (_network(c) for c in crawler.cidrs) if n is not None]
    verified = {}
    for ip, asn in claimed:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            continue
        if asn in crawler.asns or any(addr.version == n.version and addr in n for n in ranges):
            verified[ip] = crawler.name
    return verified


def _bundled_verified_ips(con: duckdb.DuckDBPyConnection, window: Window) -> dict[str, str]:
    """Verified crawlers of the bundled CrowdSec legit-bot lists (published ranges, else the operator's ASN)."""
    # A view: the check reads its distinct User-Agents first and then only the rows of claimed bots.
    con.execute("CREATE OR REPLACE TEMP VIEW gw_allow_src AS SELECT client_ip, ip_num, asn, user_agent FROM requests "
                f"WHERE ts >= TIMESTAMP '{window.start:%Y-%m-%d %H:%M:%S.%f}' AND ts < TIMESTAMP '{window.end:%Y-%m-%d %H:%M:%S.%f}'")
    verified_crawlers(con, "gw_allow_src", "gw_allow_crawlers")
    return dict(rows(con, "SELECT client_ip, min(bot_name) FROM gw_allow_crawlers WHERE status = 'verified' GROUP BY client_ip"))
