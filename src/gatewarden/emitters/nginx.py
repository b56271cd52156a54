"""nginx: a geo include for addresses and CIDRs, a map include for tokens, and the snippets using them.

Install by copying OUT/nginx/ to <nginx conf dir>/gatewarden/, then `include gatewarden/http.conf;` in
`http {}` and `include gatewarden/server.conf;` in each API `server {}`.

Tokens: gatewarden never stores raw keys. A plain identifier (`key_3f9a...`) is what the client
sends, so nginx matches it directly from `X-Api-Key` or `Authorization: Bearer`. A hashed token
(`h:...`) is an HMAC of the secret: nginx cannot compute that HMAC without a Lua/njs module and the
same key, and `jwt:<sub>` needs the JWT decoded, so those are listed as comments only; block them
by address here, or at a gateway that can hash (Envoy ext_authz, your API's auth layer).
nginx knows neither ASN nor TLS fingerprints: those decisions are listed as comments.
"""

from __future__ import annotations

from gatewarden.emitters.base import Context, header

STOP = ("block", "challenge", "throttle")


def _rate(d: dict) -> int:
    return max(1, round(d["limit"]["requests"] * 60 / d["limit"]["per_s"]))


def _value(d: dict) -> str:
    return f"throttle_{_rate(d)}" if d["action"] == "throttle" else d["action"]


def plain_token(token: str) -> bool:
    return not token.startswith(("h:", "jwt:")) and all(c.isalnum() or c in "_-.:" for c in token)


def render(ctx: Context) -> dict[str, str]:
    nets = ctx.active(*STOP, scopes=("ip", "cidr"))
    tokens = ctx.active(*STOP, scopes=("token",))
    geo = header(ctx) + "".join(f"{d['value']} {_value(d)};  # {d['id']}\n" for d in nets)
    tmap = header(ctx) + "".join(
        (f'"{d["value"]}" {_value(d)};  # {d["id"]}\n' if plain_token(d["value"]) else
         f"# {d['action']} {d['value']}: hashed/JWT identity, not matchable in nginx ({d['id']})\n") for d in tokens)
    rates = sorted({_rate(d) for d in nets + tokens if d["action"] == "throttle"})
    others = [d for d in ctx.decisions["decisions"] if d["scope"] not in ("ip", "cidr", "token")]
    http = header(ctx) + _HTTP
    for r in rates:
        http += (f'map $gatewarden_ip_action $gatewarden_ip_throttle_{r} {{ default ""; throttle_{r} $binary_remote_addr; }}\n'
                 f'map $gatewarden_token_action $gatewarden_token_throttle_{r} {{ default ""; throttle_{r} $gatewarden_token; }}\n'
                 f"limit_req_zone $gatewarden_ip_throttle_{r} zone=gatewarden_ip_{r}:10m rate={r}r/m;\n"
                 f"limit_req_zone $gatewarden_token_throttle_{r} zone=gatewarden_token_{r}:10m rate={r}r/m;\n")
    http += "".join(f"# not expressible in nginx: {d['action']} {d['scope']} {d['value']} match={d['match']}\n" for d in others)
    server = header(ctx) + _SERVER + "".join(
        f"limit_req zone=gatewarden_ip_{r} burst={r} nodelay;\nlimit_req zone=gatewarden_token_{r} burst={r} nodelay;\n"
        for r in rates)
    return {"nginx/ips.geo": geo, "nginx/tokens.map": tmap, "nginx/http.conf": http, "nginx/server.conf": server}


_HTTP = """# http {} context. Caller identity as the client sends it: X-Api-Key, else the Bearer credential.
map $http_authorization $gatewarden_bearer {
    default "";
    "~*^Bearer\\s+(?<credential>\\S+)$" $credential;
}
map $http_x_api_key $gatewarden_token {
    default $http_x_api_key;
    "" $gatewarden_bearer;
}
geo $gatewarden_ip_action {
    default "";
    include gatewarden/ips.geo;
}
map $gatewarden_token $gatewarden_token_action {
    default "";
    include gatewarden/tokens.map;
}
limit_req_status 429;
# The strongest action of the address and the token decides.
map "$gatewarden_ip_action:$gatewarden_token_action" $gatewarden_action {
    default "";
    "~block" block;
    "~challenge" challenge;
    "~throttle" throttle;
}
"""

_SERVER = """# server {} context. nginx has no interactive challenge: `challenge` answers 429 so the client backs off;
# route it to your challenge page instead if you have one.
if ($gatewarden_action = block) {
    return 403;
}
if ($gatewarden_action = challenge) {
    return 429;
}
"""
