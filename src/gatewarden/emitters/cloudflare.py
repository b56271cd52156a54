"""Cloudflare: IP List items (one list per action) and WAF custom rules for everything else.

cloudflare/ip_list_block.json and ip_list_challenge.json are the bodies for the Lists API
(`PUT /accounts/{id}/rules/lists/{list_id}/items`); Cloudflare lists take IPv6 only down to /64,
so an IPv6 address is listed as its /64. custom_rules.json holds one rule per action whose
expression references the lists (`$gatewarden_block`, `$gatewarden_challenge`), ASNs, tokens
(`X-Api-Key` header, plain identifiers only) and JA4 / User-Agent fingerprints.
"""

from __future__ import annotations

import ipaddress
import json

from gatewarden.emitters.base import Context
from gatewarden.emitters.nginx import plain_token

CF_ACTION = {"block": "block", "challenge": "managed_challenge"}
FIELDS = {"ja4": "cf.bot_management.ja4", "ja3": "cf.bot_management.ja3_hash", "user_agent": "http.user_agent",
          "asn": "ip.src.asnum", "country": "ip.src.country", "host": "http.host"}


def _item(value: str) -> str:
    net = ipaddress.ip_network(value, strict=False)
    if net.version == 6 and net.prefixlen > 64:
        net = net.supernet(new_prefix=64)
    return str(net.network_address) if net.num_addresses == 1 else str(net)


def _quote(v: object) -> str:
    return str(v) if isinstance(v, int) else json.dumps(str(v))


def _expression(d: dict) -> str | None:
    parts = []
    for field, value in sorted(d["match"].items()):
        if field == "client_ip":
            continue
        if field == "token":
            if not plain_token(str(value)):
                return None
            parts.append(f'any(http.request.headers["x-api-key"][*] eq {_quote(value)})')
        elif field in FIELDS:
            parts.append(f"{FIELDS[field]} eq {_quote(value)}")
        else:
            return None
    return "(" + " and ".join(parts) + ")" if parts else None


def render(ctx: Context) -> dict[str, str]:
    files, rules = {}, []
    for action, cf in CF_ACTION.items():
        nets = ctx.active(action, scopes=("ip", "cidr"))
        items = {}
        for d in nets:
            items.setdefault(_item(d["value"]), f"{d['id']} {d['reasons'][0]['detector']}" if d["reasons"] else d["id"])
        files[f"cloudflare/ip_list_{action}.json"] = json.dumps(
            [{"ip": ip, "comment": c} for ip, c in sorted(items.items())], indent=2) + "\n"
        exprs = [f"(ip.src in $gatewarden_{action})"] if items else []
        exprs += sorted({e for d in ctx.active(action) if d["scope"] not in ("ip", "cidr") and (e := _expression(d))})
        if exprs:
            rules.append({"description": f"gatewarden {action} ({ctx.decisions['generated_at']})", "action": cf,
                          "expression": " or ".join(exprs)})
    files["cloudflare/custom_rules.json"] = json.dumps(rules, indent=2) + "\n"
    return files
