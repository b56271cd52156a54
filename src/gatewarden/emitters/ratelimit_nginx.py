"""Recommended rate limits as nginx `limit_req` zones (http context) and locations (server context).

nginx limits per second or per minute only, so the 1-minute recommendations are rendered; the
10-minute, hourly and daily ones are listed as comments for gateways that can count longer windows.
Per-endpoint locations are emitted only for medium/high confidence; `*` applies server-wide.
"""

from __future__ import annotations

import re

from gatewarden.emitters.base import Context, header

KEY_VAR = {"ip": "$binary_remote_addr", "token": "$http_x_api_key", "fingerprint": "$http_x_ja4"}


def _zone(endpoint: str, key: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", endpoint.lower()).strip("_") or "all"
    return f"gw_rl_{key}_{slug}"[:60]


def location_regex(template: str) -> str:
    parts = [r"[^/]+" if re.fullmatch(r"\{[^}]*\}", seg) else re.escape(seg) for seg in template.split("/")]
    return "^" + "/".join(parts) + "$"


def render(ctx: Context) -> dict[str, str]:
    per_min = [r for r in ctx.rate_limits["limits"] if r["window_s"] == 60 and r["key"] in KEY_VAR
               and (r["endpoint"] == "*" or r["confidence"] != "low")]
    http = header(ctx) + "".join(
        f"limit_req_zone {KEY_VAR[r['key']]} zone={_zone(r['endpoint'], r['key'])}:10m rate={r['limit']}r/m;  "
        f"# {r['endpoint']} per {r['key']}: p99 {r['p99']} x {r['headroom']}, {r['entities']} entities, {r['confidence']}\n"
        for r in per_min)
    http += "".join(f"# {r['endpoint']} per {r['key']} per {r['window_s']}s: {r['limit']} requests ({r['confidence']})\n"
                    for r in ctx.rate_limits["limits"] if r["window_s"] != 60)
    server = header(ctx) + "# rejections answer 429 via `limit_req_status 429;` in gatewarden/http.conf\n" + "".join(
        f"limit_req zone={_zone(r['endpoint'], r['key'])} burst={r['limit']} nodelay;\n" for r in per_min if r["endpoint"] == "*")
    by_endpoint: dict[str, list[dict]] = {}
    for r in per_min:
        if r["endpoint"] != "*":
            by_endpoint.setdefault(r["endpoint"], []).append(r)
    for endpoint, limits in sorted(by_endpoint.items()):
        server += (f"location ~ {location_regex(endpoint)} {{\n    # add this location's proxy_pass / includes here\n"
                   + "".join(f"    limit_req zone={_zone(endpoint, r['key'])} burst={r['limit']} nodelay;\n" for r in limits)
                   + "}\n")
    return {"nginx/rate_limits_http.conf": http, "nginx/rate_limits_server.conf": server}
