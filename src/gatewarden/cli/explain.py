"""`gatewarden explain VALUE`: why an IP, token, ASN or fingerprint has (or has no) decision."""

from __future__ import annotations

import ipaddress
import json
from typing import Annotated

import typer

from gatewarden.cli.common import ConfigOption, DbOption, handles_errors, load, out
from gatewarden.db import connect, dicts, scalar
from gatewarden.decisions.model import Decision
from gatewarden.decisions.store import load as load_decisions
from gatewarden.errors import GatewardenError


def _covering(d: Decision, value: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None, asns: set[int]) -> bool:
    if d.value == value or value in {str(v) for v in d.match.values()}:
        return True
    if ip is not None and d.scope == "cidr":
        net = ipaddress.ip_network(d.value, strict=False)
        return net.version == ip.version and ip in net
    return d.scope == "asn" and d.value.isdigit() and int(d.value) in asns


def explain_lines(con, value: str) -> list[str]:
    run = dicts(con, "SELECT * FROM decision_runs WHERE outcome = 'written' ORDER BY window_end DESC, finished_at DESC LIMIT 1")
    if not run:
        raise GatewardenError("No decisions have been made on this database yet.", "Run `gatewarden decide --out DIR` first.")
    run = run[0]
    value = value.removeprefix("AS") if value.upper().startswith("AS") and value[2:].isdigit() else value
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        ip = None
    asns = {a for (a,) in con.execute("SELECT DISTINCT asn FROM requests WHERE client_ip = ? AND asn IS NOT NULL AND ts >= ? "
                                      "AND ts < ?", [value, run["window_start"], run["window_end"]]).fetchall()} if ip else set()
    lines = [f"window {run['window_start']:%Y-%m-%d %H:%M} .. {run['window_end']:%Y-%m-%d %H:%M} UTC (decision run {run['decision_run']})"]
    hits = [d for d in load_decisions(con, run["decision_run"], status=None) if _covering(d, value, ip, asns)]
    for d in hits:
        head = f"{d.status.upper()} {d.action} {d.scope} {d.value}"
        if d.status == "active":
            head += f" until {d.expires_at:%Y-%m-%d %H:%M:%S} UTC (ttl {d.ttl_s}s, offence #{d.offence_count})"
        if d.status_reason:
            head += f" - {d.status_reason}"
        lines.append(head)
        lines.append(f"  match {json.dumps(d.match, sort_keys=True)}; evidence: {d.requests or 0:,} requests, "
                     f"{d.first_seen} .. {d.last_seen}, cost {d.cost or 0:.4g}")
        if d.limit_requests:
            lines.append(f"  limit {d.limit_requests} requests per {d.limit_per_s}s")
        for r in d.reasons:
            lines.append(f"  reason {r['detector']}.{r['metric']} = {r['value']} (threshold {r['threshold']}, {r.get('severity', '')})")
    findings = dicts(con, """SELECT detector, scope, value, metric, observed, threshold, severity, requests FROM findings
                             WHERE window_start = ? AND window_end = ? AND (value = ? OR CAST(match AS VARCHAR) LIKE ?)
                             ORDER BY detector, metric""", [run["window_start"], run["window_end"], value, f'%"{value}"%'])
    if not hits:
        seen = scalar(con, "SELECT count(*) FROM requests WHERE ts >= ? AND ts < ? AND (client_ip = ? OR token = ? OR ja4 = ? "
                           "OR CAST(asn AS VARCHAR) = ?)", [run["window_start"], run["window_end"], value, value, value, value])
        lines.append(f"no decision covers {value} ({seen:,} requests in the window"
                     + (", findings below did not reach a decision" if findings else ", no finding") + ")")
    for f in findings:
        lines.append(f"  finding {f['detector']}.{f['metric']} on {f['scope']} {f['value']}: {f['observed']:.4g} vs threshold "
                     f"{f['threshold'] if f['threshold'] is None else format(f['threshold'], '.4g')} ({f['severity']}, "
                     f"{f['requests'] or 0:,} requests)")
    return lines


def register(app: typer.Typer) -> None:
    @app.command("explain")
    @handles_errors
    def explain_cmd(value: Annotated[str, typer.Argument(help="An IP, token id, ASN (AS13335 or 13335), JA4 or user agent.")],
                    db: DbOption = None, config: ConfigOption = None) -> None:
        """Why VALUE has (or has no) decision: covering ip/cidr/asn decisions, reasons, thresholds and evidence window.

        Example: gatewarden explain 203.0.113.7
        """
        cfg = load(config, db)
        con = connect(cfg.database, read_only=True)
        try:
            for line in explain_lines(con, value):
                out.print(line, markup=False)
        finally:
            con.close()
