"""nftables: block decisions on addresses and CIDRs as IPv4 and IPv6 interval sets with per-element timeouts.

Load with `nft -f gatewarden.nft` (it replaces the table, so re-loading nightly is idempotent).
Only `block` belongs at the packet layer: a challenge or a throttle needs HTTP.
"""

from __future__ import annotations

from gatewarden.emitters.base import Context, header


def render(ctx: Context) -> dict[str, str]:
    blocks = ctx.active("block", scopes=("ip", "cidr"))
    sets = []
    for family, name in (("ipv4_addr", "v4"), ("ipv6_addr", "v6")):
        elems = [f"{d['value']} timeout {ctx.ttl_left(d)}s" for d in blocks if (":" in d["value"]) == (name == "v6")]
        body = f"\t\telements = {{ {', '.join(elems)} }}\n" if elems else ""
        sets.append(f"\tset block_{name} {{\n\t\ttype {family}\n\t\tflags interval, timeout\n{body}\t}}\n")
    text = (header(ctx) + "table inet gatewarden\ndelete table inet gatewarden\ntable inet gatewarden {\n" + "".join(sets)
            + "\tchain input {\n\t\ttype filter hook input priority -10; policy accept;\n"
            "\t\tip saddr @block_v4 drop\n\t\tip6 saddr @block_v6 drop\n\t}\n}\n")
    return {"gatewarden.nft": text}
