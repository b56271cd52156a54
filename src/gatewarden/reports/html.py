"""The self-contained HTML report: one file, inline CSS and SVG charts, opens with no network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from gatewarden.files import write_atomic
from gatewarden.reports import charts


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 1000 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def pct(before: float | None, after: float | None) -> str:
    if not before or after is None:
        return "—"
    return f"{(after - before) / before:+.0%}"


def valve_sentence(v: dict[str, Any]) -> str:
    """The safety valve's refusal in one sentence (collect.valve_refusal)."""
    limit = "the" if v["limit"] is None else f"the {100 * v['limit']:.2f}%"  # None: recorded before limits were
    return (f"Safety valve: tonight's {v['decisions']:,} decisions were not written. They would have stopped "
            f"{v['clean_requests_hit']:,} legitimate-looking requests ({100 * v['clean_share']:.2f}%) and "
            f"{v['clean_tokens_hit']:,} legitimate-looking tokens ({100 * v['clean_token_share']:.2f}%), above {limit} limit "
            f"(decisions.safety_max_clean_share), so the gateway keeps the files it has; "
            f"\"gatewarden decide --out DIR\" names the decisions at fault.")


def build_charts(d: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    if d["timeline"]["available"]:
        out["timeline"] = charts.stacked_bars(d["timeline"]["hours"], "hour", ["clean", "flagged", "throttled", "stopped"],
                                              "requests per hour by verdict", "requests / hour")
    if d["asn_automation"]["available"]:
        out["asn"] = charts.share_bars(d["asn_automation"]["items"], "automation share per ASN")
    for key, xlabel in (("ips_per_token", "distinct IPs per token"), ("tokens_per_ip", "distinct tokens per IP")):
        dist = d["distributions"][key]
        if dist["available"]:
            markers = [(f"{t['detector']} threshold", t["threshold"]) for t in dist["thresholds"]]
            markers += [("p99", dist["quantiles"]["p99"])]
            out[key] = charts.histogram(dist["buckets"], key.replace("_", " "), xlabel, markers)
    if d["graphql"]["available"]:
        for metric, xlabel in (("depth", "query depth"), ("size", "document bytes")):
            q = d["graphql"][metric]["quantiles"]
            out[f"gql_{metric}"] = charts.histogram(d["graphql"][metric]["buckets"], f"GraphQL {metric}", xlabel,
                                                    [(p, q[p]) for p in ("p50", "p95", "p99") if q[p] is not None])
    return {k: v for k, v in out.items() if v}


def render_html(d: dict[str, Any], title: str) -> str:
    env = Environment(loader=PackageLoader("gatewarden.reports", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    drawn = build_charts(d)
    return env.get_template("report.html.j2").render(d=d, charts=drawn, charts_expected=len(drawn), title=title, fmt=fmt, pct=pct,
                                                       valve_sentence=valve_sentence)


def write_html(d: dict[str, Any], out_dir: Path, title: str) -> Path:
    path = out_dir / "report.html"
    write_atomic(path, render_html(d, title))
    return path
