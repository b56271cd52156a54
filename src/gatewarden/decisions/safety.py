"""The safety valve: refuse to publish decisions that would stop a real share of legitimate-looking traffic.

Legitimate-looking traffic (decisions/legit.py) is judged by how it uses the API, not by whether a
finding selects it: established tokens and browsing clients not themselves accused by a token finding.
"No finding selects it" cannot catch a detector gone wrong on a corporate NAT, because the NAT's own
finding would select every employee's request. The new active block/challenge decisions (not those
re-issued from earlier runs) are replayed with the gateway matcher; if they would stop more than
`safety_max_clean_share` of the legitimate-looking requests, or of the legitimate-looking tokens, nothing
is written and the run exits 3 naming the culprits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from gatewarden.db import dicts, scalar
from gatewarden.decisions.model import Decision
from gatewarden.detectors.base import Window
from gatewarden.errors import SafetyValveTripped
from gatewarden.replay import STOPPING, Matcher, Rule, window_source


@dataclass
class CleanImpact:
    clean_requests: int
    requests_hit: int
    clean_tokens: int
    tokens_hit: int
    worst: list[dict] = field(default_factory=list)  # per decision: id, scope, value, action, clean requests it stops

    @property
    def request_share(self) -> float:
        return self.requests_hit / self.clean_requests if self.clean_requests else 0.0

    @property
    def token_share(self) -> float:
        return self.tokens_hit / self.clean_tokens if self.clean_tokens else 0.0


def clean_impact(con: duckdb.DuckDBPyConnection, decisions: list[Decision], window: Window, legit: str) -> CleanImpact:
    """`legit` is the table decisions/legit.py built: (req_key, token) plus `<legit>_tokens`(token)."""
    # Re-issued decisions were vetted when first published; on a quiet night their traffic has no finding by design.
    active = [d for d in decisions if d.status == "active" and d.action in STOPPING and not d.reissued]
    matcher = Matcher(con, [Rule(d.id, d.match) for d in active], name="gw_safety")
    source = window_source(window.start, window.end)
    con.execute(f"CREATE OR REPLACE TEMP TABLE gw_clean_hits AS SELECT h.req_key, h.rule_id, l.token "
                f"FROM ({matcher.hits_sql(source)}) h JOIN {legit} l USING (req_key)")
    by_id = {d.id: d for d in active}
    worst = [{"id": r["rule_id"], "scope": by_id[r["rule_id"]].scope, "value": by_id[r["rule_id"]].value,
              "action": by_id[r["rule_id"]].action, "clean_requests": r["n"]}
             for r in dicts(con, "SELECT rule_id, count(DISTINCT req_key) AS n FROM gw_clean_hits GROUP BY rule_id "
                                 "ORDER BY n DESC, rule_id LIMIT 10")]
    return CleanImpact(
        clean_requests=scalar(con, f"SELECT count(*) FROM {legit}"),
        requests_hit=scalar(con, "SELECT count(DISTINCT req_key) FROM gw_clean_hits"),
        # Every token of a legitimate-looking request, as in tokens_hit: a stolen key's owner networks are legitimate
        # (legit.py) though the key is not in `<legit>_tokens`, and counting it above but not here gave shares over 100%.
        clean_tokens=scalar(con, f"SELECT count(DISTINCT token) FROM {legit} WHERE token IS NOT NULL"),
        tokens_hit=scalar(con, "SELECT count(DISTINCT token) FROM gw_clean_hits WHERE token IS NOT NULL"),
        worst=worst,
    )


def check(impact: CleanImpact, max_share: float) -> None:
    if impact.request_share <= max_share and impact.token_share <= max_share:
        return
    culprits = "; ".join(f"{w['action']} {w['scope']} {w['value']} stops {w['clean_requests']:,} of them"
                         for w in impact.worst[:5])
    raise SafetyValveTripped(
        f"Safety valve: the decisions would stop {impact.requests_hit:,} of {impact.clean_requests:,} legitimate-looking requests "
        f"({impact.request_share:.2%}) and {impact.tokens_hit:,} of {impact.clean_tokens:,} legitimate-looking tokens "
        f"({impact.token_share:.2%}), above the limit of {max_share:.2%}. Nothing was written; the previous files stay. "
        f"Worst: {culprits or 'none'}.",
        "Check the detectors' findings for these entities (`gatewarden explain VALUE`); allowlist them in the "
        "decisions.allowlist section if they are legitimate, or raise decisions.safety_max_clean_share if the traffic really is abusive.",
    )
