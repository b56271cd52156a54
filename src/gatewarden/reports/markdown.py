"""summary.md: the night in a few lines and small tables, for chat and tickets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gatewarden.files import write_atomic
from gatewarden.reports.html import fmt, pct, valve_sentence


def render_markdown(d: dict[str, Any], title: str, top: int = 10) -> str:
    t = d["totals"]
    valve = t["safety_valve"]
    decided = ", ".join(f"{n:,} {a}" for a, n in t["decisions"].items()) or (
        "no decisions written (safety valve)" if valve else "no decisions")
    lines = [f"# {title}: {d['day']}", "",
             f"{t['requests']:,} requests from {t['tokens']:,} tokens and {t['ips']:,} IPs, estimated cost {t['cost']:.2f}; "
             f"{t['findings']:,} findings; {decided}.", ""]
    if valve:
        lines += [f"**{valve_sentence(valve)}**", ""]
    off = d["offenders"]
    lines += ["## Top offenders", ""]
    if off["available"]:
        lines += ["| scope | value | action | detectors | requests | est. cost |", "|---|---|---|---|---:|---:|"]
        lines += [f"| {o['scope']} | `{o['value']}` | {o['action'] or 'finding'} | {', '.join(o['detectors'] or [])} | "
                  f"{o['requests'] or 0:,} | {o['cost'] or 0:.2f} |" for o in off["items"][:top]]
    else:
        lines.append(f"_{off['note']}_")
    lines += ["", "## What changed since yesterday", ""]
    ch = d["changes"]
    if ch["available"]:
        lines += [f"- {k}: {fmt(v['yesterday'])} → {fmt(v['today'])} ({pct(v['yesterday'], v['today'])})" for k, v in ch["traffic"].items()]
        if ch.get("decisions"):
            lines.append(f"- decisions: {ch['decisions']['new']} new, {ch['decisions']['repeated']} repeated, "
                         f"{ch['decisions']['lifted']} lifted")
        lines += [f"- threshold {t_['detector']}/{t_['metric']}: {fmt(t_['yesterday'])} → {fmt(t_['today'])}" for t_ in ch["thresholds"]]
    else:
        lines.append(f"_{ch['note']}_")
    rl = d["rate_limits"]
    lines += ["", "## Rate limits", ""]
    if rl["available"]:
        lines += ["| key | endpoint | window | recommended | last night | published | legit throttled | other throttled |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['scope']} | `{r['endpoint']}` | {r['window_s']} s | {fmt(r['recommended'])} | "
                  f"{fmt(r['previous']) if r['previous'] is not None else '—'} | {fmt(r['smoothed'])} | "
                  f"{r['legit_requests_throttled']:,} ({100 * r['legit_throttled_share']:.1f}%) | "
                  f"{r['other_requests_throttled']:,} ({100 * r['other_throttled_share']:.1f}%) |" for r in rl["items"][:top]]
    else:
        lines.append(f"_{rl['note']}_")
    return "\n".join(lines) + "\n"


def write_markdown(d: dict[str, Any], out_dir: Path, title: str) -> Path:
    path = out_dir / "summary.md"
    write_atomic(path, render_markdown(d, title))
    return path
