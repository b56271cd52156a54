"""HAProxy: map files (address/CIDR -> action, token -> action) and the frontend snippet using them.

Install by copying OUT/haproxy/ to /etc/haproxy/gatewarden/ and pasting frontend.cfg into the API
frontend. `map_ip` matches addresses and CIDRs, IPv4 and IPv6. Tokens: plain identifiers only, as
with nginx (a hashed `h:` token needs the HMAC key, a `jwt:` identity a decoded JWT).
"""

from __future__ import annotations

from gatewarden.emitters.base import Context, header
from gatewarden.emitters.nginx import plain_token

ACTIONS = ("block", "challenge", "throttle")


def render(ctx: Context) -> dict[str, str]:
    ips = header(ctx) + "".join(f"{d['value']} {d['action']}\n" for d in ctx.active(*ACTIONS, scopes=("ip", "cidr")))
    tokens = header(ctx) + "".join(f"{d['value']} {d['action']}\n" for d in ctx.active(*ACTIONS, scopes=("token",))
                                   if plain_token(d["value"]))
    throttles = [d for d in ctx.active("throttle", scopes=("ip", "cidr", "token"))]
    per_min = min((max(1, round(d["limit"]["requests"] * 60 / d["limit"]["per_s"])) for d in throttles), default=60)
    frontend = header(ctx) + _FRONTEND.replace("{per_min}", str(per_min))
    return {"haproxy/ips.map": ips, "haproxy/tokens.map": tokens, "haproxy/frontend.cfg": frontend}


_FRONTEND = """# Paste into the API frontend. The throttle rate is the strictest throttle decision ({per_min} requests/min).
    http-request set-var(txn.gw_token) req.hdr(x-api-key)
    http-request set-var(txn.gw_token) req.hdr(authorization),regsub(^Bearer\\s+,) if !{ var(txn.gw_token) -m found }
    http-request set-var(txn.gw_ip_action) src,map_ip(/etc/haproxy/gatewarden/ips.map)
    http-request set-var(txn.gw_token_action) var(txn.gw_token),map(/etc/haproxy/gatewarden/tokens.map)
    acl gw_block var(txn.gw_ip_action) -m str block
    acl gw_block var(txn.gw_token_action) -m str block
    acl gw_challenge var(txn.gw_ip_action) -m str challenge
    acl gw_challenge var(txn.gw_token_action) -m str challenge
    acl gw_throttle var(txn.gw_ip_action) -m str throttle
    acl gw_throttle var(txn.gw_token_action) -m str throttle
    stick-table type ip size 1m expire 10m store http_req_rate(1m)
    http-request track-sc0 src if gw_throttle
    http-request deny deny_status 403 if gw_block
    http-request deny deny_status 429 if gw_challenge
    http-request deny deny_status 429 if gw_throttle { sc_http_req_rate(0) gt {per_min} }
"""
