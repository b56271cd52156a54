"""IP/CIDR text <-> inclusive ranges on the ip_num axis (IPv4 mapped into ::ffff:0:0/96).

Used for allowlists, published crawler ranges, CIDR lists and for writing minimal block lists.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from gatewarden.enrich.ip import IPV4_MAPPED_BASE

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# What a "network" is throughout (the gw_net macro's /24 and /64): IP version -> prefix length.
NETWORK_PREFIX = {4: 24, 6: 64}


def parse_network(text: str) -> Network | None:
    """`1.2.3.4`, `1.2.3.0/24`, `2001:db8::/32`, `::ffff:1.2.3.4` -> a network (host bits cleared); None if not one."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    if isinstance(net, ipaddress.IPv6Network) and net.network_address.ipv4_mapped and net.prefixlen >= 96:
        return ipaddress.IPv4Network((net.network_address.ipv4_mapped, net.prefixlen - 96))
    return net


def network_range(net: Network) -> tuple[int, int]:
    """Inclusive (start, end) of `net` on the ip_num axis."""
    start, end = int(net.network_address), int(net.broadcast_address)
    if isinstance(net, ipaddress.IPv4Network):
        return IPV4_MAPPED_BASE + start, IPV4_MAPPED_BASE + end
    return start, end


def cidr_range(text: str) -> tuple[int, int] | None:
    """IP or CIDR text -> inclusive (start, end) on the ip_num axis; None when the text is not an address or network."""
    net = parse_network(text)
    return network_range(net) if net is not None else None


def range_to_cidrs(start: int, end: int) -> list[str]:
    """The minimal CIDR list covering the inclusive ip_num range [start, end]."""
    v4_lo, v4_hi = IPV4_MAPPED_BASE, IPV4_MAPPED_BASE + 0xFFFF_FFFF
    if v4_lo <= start and end <= v4_hi:
        first, last = ipaddress.IPv4Address(start - v4_lo), ipaddress.IPv4Address(end - v4_lo)
    else:
        first, last = ipaddress.IPv6Address(start), ipaddress.IPv6Address(end)
    return [str(n) for n in ipaddress.summarize_address_range(first, last)]


def collapse(items: Iterable[str]) -> list[str]:
    """Merge addresses and networks into the minimal CIDR list (adjacent and nested ones joined), IPv4 first.

    Text that is not an address or network is skipped; callers that must report it use `parse_network`.
    """
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    for item in items:
        net = parse_network(item)
        if isinstance(net, ipaddress.IPv4Network):
            v4.append(net)
        elif isinstance(net, ipaddress.IPv6Network):
            v6.append(net)
    return [str(n) for n in ipaddress.collapse_addresses(v4)] + [str(n) for n in ipaddress.collapse_addresses(v6)]


def net_key(ip: str) -> str | None:
    """The /24 (IPv4) or /64 (IPv6) network of an address, as `gw_net` writes it in SQL: `1.2.3.0/24`, `2001:db8::/64`."""
    net = parse_network(ip)
    if net is None or net.num_addresses != 1:
        return None
    return str(net.supernet(new_prefix=NETWORK_PREFIX[net.version]))
