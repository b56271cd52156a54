"""decisions.jsonl: a change feed against the previous run, one JSON object per line.

`{"type": "new", "decision": {...}}` for a decision not in the previous file (or changed: action,
expiry), `{"type": "deleted", "id", "scope", "value"}` for one that is gone, like CrowdSec's stream.
"""

from __future__ import annotations

import json

from gatewarden.emitters.base import Context


def render(ctx: Context) -> dict[str, str]:
    prev = {d["id"]: d for d in (ctx.previous or {}).get("decisions", [])}
    now = {d["id"]: d for d in ctx.decisions["decisions"]}
    lines = []
    for d in ctx.decisions["decisions"]:
        old = prev.get(d["id"])
        if old is None or (old["action"], old["expires_at"]) != (d["action"], d["expires_at"]):
            lines.append({"type": "new", "decision": d})
    for d in (ctx.previous or {}).get("decisions", []):
        if d["id"] not in now:
            lines.append({"type": "deleted", "id": d["id"], "scope": d["scope"], "value": d["value"]})
    return {"decisions.jsonl": "".join(json.dumps(x, separators=(",", ":"), ensure_ascii=False) + "\n" for x in lines)}
