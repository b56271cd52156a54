"""SQL fragments the sequence, graphql, schema and auth_abuse detectors share.

Entities are the scopes a gateway can act on; `ENTITY_KEYS` says which `win` column holds each
one's value and how its `match` object (canonical field -> value) is built, so a decision copied
from a finding selects exactly the requests the finding counted.
"""

from __future__ import annotations

# scope -> (expression over `win` giving the entity value, JSON `match` expression over aggregates)
ENTITY_KEYS: dict[str, tuple[str, str]] = {
    "token": ("token", "json_object('token', value)"),
    "ip": ("client_ip", "json_object('client_ip', value)"),
    "cidr": ("net", "json_object('client_ip', value)"),
    # A fingerprint is a hash of TLS stack + browser build + language + network kind; a gateway
    # matches it on what it can see: the JA4 (or JA3) and the user agent most of its requests sent.
    "fingerprint": ("fingerprint",
                    "json_object('fingerprint', value, 'ja4', mode(ja4), 'ja3', mode(ja3), 'user_agent', mode(user_agent))"),
}


def sample_ids(where: str = "true") -> str:
    """Aggregate SQL: up to five request ids of the group's rows matching `where`, earliest first
    (deterministic). Logs without request ids (plain nginx/Apache) point at file:line instead."""
    return (
        "(list(coalesce(request_id, regexp_extract(source_file, '[^/]+$') || ':' || CAST(source_line AS VARCHAR)) "
        f"ORDER BY ts, source_file, source_line) FILTER (WHERE {where}))[1:5]"
    )


def robust_threshold(source: str, col: str, k: float, floor: float) -> str:
    """A one-row relation (med, mad, threshold) over `source`: threshold = max(floor, median + k * 1.4826 * MAD).

    1.4826 * MAD estimates the standard deviation of the normal bulk while ignoring the outliers we
    look for, so a few heavy hitters cannot raise their own bar; `floor` keeps a degenerate population
    (MAD 0: everyone sent the same) from flagging the first entity one above the median.
    """
    return f"""(SELECT med, mad, greatest({float(floor)!r}, med + {float(k)!r} * 1.4826 * mad) AS threshold
        FROM (SELECT m.med, median(abs(s.{col} - m.med)) AS mad
              FROM {source} s, (SELECT median({col}) AS med FROM {source}) m GROUP BY m.med))"""
