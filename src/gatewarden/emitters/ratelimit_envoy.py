"""Recommended rate limits as Envoy local rate limit config (JSON, which is valid YAML).

One `typed_per_filter_config` per endpoint template for the route of that path, with a
descriptor per key (remote address, `x-api-key` header) holding the 1-minute recommendation as
a token bucket; `*` becomes the virtual-host default. Per-key descriptors without a value match
every value of the key (Envoy's local rate limit wildcard descriptors).
"""

from __future__ import annotations

import json

from gatewarden.emitters.base import Context
from gatewarden.emitters.ratelimit_nginx import location_regex

ACTIONS = {"ip": {"remote_address": {}},
           "token": {"request_headers": {"header_name": "x-api-key", "descriptor_key": "token"}}}
DESCRIPTOR_KEY = {"ip": "remote_address", "token": "token"}


def _bucket(limit: int) -> dict:
    return {"max_tokens": limit, "tokens_per_fill": limit, "fill_interval": "60s"}


def render(ctx: Context) -> dict[str, str]:
    routes: dict[str, list[dict]] = {}
    for r in ctx.rate_limits["limits"]:
        if r["window_s"] == 60 and r["key"] in ACTIONS and (r["endpoint"] == "*" or r["confidence"] != "low"):
            routes.setdefault(r["endpoint"], []).append(r)
    out = []
    for endpoint, limits in sorted(routes.items()):
        out.append({
            "match": {"prefix": "/"} if endpoint == "*" else {"safe_regex": {"regex": location_regex(endpoint)}},
            "rate_limits": [{"actions": [ACTIONS[r["key"]]]} for r in limits],
            "typed_per_filter_config": {"envoy.filters.http.local_ratelimit": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
                "stat_prefix": "gatewarden",
                "token_bucket": _bucket(max(r["limit"] for r in limits) * 1000),
                "filter_enabled": {"default_value": {"numerator": 100, "denominator": "HUNDRED"}},
                "filter_enforced": {"default_value": {"numerator": 100, "denominator": "HUNDRED"}},
                "descriptors": [{"entries": [{"key": DESCRIPTOR_KEY[r["key"]]}], "token_bucket": _bucket(r["limit"])}
                                for r in limits],
            }},
        })
    doc = {"generated_at": ctx.rate_limits["generated_at"], "routes": out}
    return {"envoy/local_ratelimit.yaml": "# gatewarden recommended limits: merge each route into your route_config\n"
            + json.dumps(doc, indent=2) + "\n"}
