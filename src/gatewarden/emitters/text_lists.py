"""Plain lists, one entry per line, of what a gateway should stop (block and challenge decisions).

cidrs.txt holds every stopped address and network collapsed into the fewest CIDRs.
"""

from __future__ import annotations

import ipaddress

from gatewarden.emitters.base import Context

STOP = ("block", "challenge")


def render(ctx: Context) -> dict[str, str]:
    ips = sorted({d["value"] for d in ctx.active(*STOP, scopes=("ip",))}, key=_addr_key)
    nets = [ipaddress.ip_network(d["value"], strict=False) for d in ctx.active(*STOP, scopes=("ip", "cidr"))]
    cidrs = [str(n) for v in (4, 6) for n in ipaddress.collapse_addresses([n for n in nets if n.version == v])]
    asns = sorted({int(d["value"]) for d in ctx.active(*STOP, scopes=("asn",))})
    tokens = sorted({d["value"] for d in ctx.active(*STOP, scopes=("token",))})
    return {"ips.txt": _lines(ips), "cidrs.txt": _lines(cidrs), "asns.txt": _lines(map(str, asns)), "tokens.txt": _lines(tokens)}


def _addr_key(text: str) -> tuple:
    addr = ipaddress.ip_address(text)
    return (addr.version, int(addr))


def _lines(values) -> str:
    return "".join(f"{v}\n" for v in values)
