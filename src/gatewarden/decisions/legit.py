"""Legitimate-looking traffic: what a decision must not stop, judged apart from the findings that accuse an address.

"No finding selects it" is no test of innocence for a decision's collateral: when a detector goes wrong
on a corporate NAT, the NAT's own finding selects every employee's request, and the mistake would
excuse itself. What does separate people and customers from abuse is how they use the API:

- an **established token**: active in >= `min_hours` distinct hours of the window from <= 2 networks (a
  customer's servers, a person at home and at work), or seen before the window (history);
- a **browsing client**: requests from an (address, User-Agent) pair that loaded pages (static assets),
  which a scraper, a stuffing tool or an SDK never does; a token used from such a pair is a person's;

unless a medium or high finding whose match names the token (of a detector that decides, not a supporting one)
accuses it: a low finding is a hint (no decision by default, at most a throttle).
A token accused only of being *stolen* (`VICTIM_METRICS`: used from many networks at once, replayed
after expiry) or of a burst (throttled, not stopped) still has an owner: its **owner networks** (/24,
/64 where it is established: active in >= `min_hours` quiet hours, when it used at most two networks,
or browsing) stay legitimate, and its decisions are narrowed to the other networks (`owner_networks`).
The safety valve measures decisions against these requests and tokens, and narrowing keeps broad
decisions (ASN, fingerprint) off the networks where they appear.
"""

from __future__ import annotations

from collections import defaultdict

import duckdb

from gatewarden.db import rows
from gatewarden.detectors.base import Window
from gatewarden.enrich.cidr import net_key
from gatewarden.features import STATIC_PATH
from gatewarden.replay import window_source

# Findings that say a credential is used by someone other than its owner: the owner is a victim, not the abuser.
VICTIM_METRICS = (("token_ip_fanout", None), ("auth_abuse", "expired_token_requests"))
# Findings that don't make the holder an abuser either: a burst is throttled at the key's own pace, not stopped.
RATE_METRICS = (("burst", None),)


def build(con: duckdb.DuckDBPyConnection, window: Window, supporting: list[str], into: str = "gw_legit",
          min_hours: int = 3, from_win: bool = False) -> None:
    """Temp tables `into`(req_key, token) of legitimate-looking requests and `into`_tokens(token).
    With `from_win`, the temp table `win` holds this window's features (net, is_static) and is read instead
    of deriving them again from `requests`."""
    if from_win:
        requests = "SELECT req_key, token, ts, client_ip, user_agent, net, is_static FROM win"
    else:
        static = STATIC_PATH.replace("'", "''")
        requests = f"""SELECT req_key, token, ts, client_ip, user_agent, gw_net(client_ip, ip_num) AS net,
                              coalesce(regexp_matches(coalesce(endpoint, path), '{static}'), false) AS is_static
                       FROM ({window_source(window.start, window.end)})"""
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE {into}_requests AS
    WITH r AS ({requests}),
    browsing AS (SELECT DISTINCT client_ip, user_agent FROM r WHERE is_static)
    SELECT r.req_key, r.token, r.ts, r.net, b.client_ip IS NOT NULL AS browses
    FROM r LEFT JOIN browsing b ON b.client_ip = r.client_ip AND b.user_agent IS NOT DISTINCT FROM r.user_agent""")
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE {into}_tokens AS
    WITH accused AS (SELECT DISTINCT json_extract_string(match, '$.token') AS token FROM findings
                     WHERE window_start = ? AND window_end = ? AND json_extract_string(match, '$.token') IS NOT NULL
                       AND severity IN ('medium', 'high') AND NOT list_contains(CAST(? AS VARCHAR[]), detector)
                       AND detector NOT IN ({", ".join(f"'{d}'" for d, _ in RATE_METRICS)})),
    history AS (SELECT DISTINCT token FROM requests WHERE ts < ? AND token IN (SELECT token FROM {into}_requests)),
    t AS (SELECT token, count(DISTINCT date_trunc('hour', ts)) AS hours, count(DISTINCT net) AS nets, bool_or(browses) AS browses
          FROM {into}_requests WHERE token IS NOT NULL GROUP BY token)
    SELECT token FROM t
    WHERE ((hours >= {int(min_hours)} AND nets <= 2) OR browses OR token IN (SELECT token FROM history))
      AND token NOT IN (SELECT token FROM accused)""", [window.start, window.end, supporting, window.start])
    victims = victim_tokens(con, window, supporting)
    owners = owner_networks(con, window, victims, min_hours)
    pairs = [(t, ip) for t, ip in rows(con, f"""SELECT DISTINCT token, client_ip FROM ({window_source(window.start, window.end)})
                                              WHERE token IN (SELECT unnest(CAST(? AS VARCHAR[])))""", [victims])
             if net_key(ip) in owners.get(t, ())]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {into}_owner_ips (token VARCHAR, client_ip VARCHAR)")
    if pairs:
        con.executemany(f"INSERT INTO {into}_owner_ips VALUES (?, ?)", pairs)
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE {into} AS
    SELECT req_key, token FROM {into}_requests
    WHERE token IN (SELECT token FROM {into}_tokens) OR (token IS NULL AND browses)
    UNION ALL
    SELECT r.req_key, r.token FROM ({window_source(window.start, window.end)}) r
    SEMI JOIN {into}_owner_ips o ON o.token = r.token AND o.client_ip = r.client_ip""")


def victim_tokens(con: duckdb.DuckDBPyConnection, window: Window, supporting: list[str]) -> list[str]:
    """Tokens whose deciding token findings say the credential was stolen or ran too fast, none that its holder abuses."""
    found = rows(con, """SELECT json_extract_string(match, '$.token'), detector, metric FROM findings
                         WHERE window_start = ? AND window_end = ? AND json_extract_string(match, '$.token') IS NOT NULL
                           AND severity IN ('medium', 'high')""",
                 [window.start, window.end])
    verdict: dict[str, bool] = {}
    for token, detector, metric in found:
        if detector in supporting:
            continue
        kind = any(detector == d and (m is None or metric == m) for d, m in (*VICTIM_METRICS, *RATE_METRICS))
        verdict[token] = verdict.get(token, True) and kind
    return sorted(t for t, stolen in verdict.items() if stolen)


def owner_networks(con: duckdb.DuckDBPyConnection, window: Window, tokens: list[str], min_hours: int = 3) -> dict[str, set[str]]:
    """Per token, the networks where its owner is established: active in >= `min_hours` quiet hours (hours in which
    the token used at most two networks, i.e. outside a fan-out) or loading pages there (a person's browser).
    Only tokens that also used other networks have owner networks."""
    if not tokens:
        return {}
    static = STATIC_PATH.replace("'", "''")
    per_hour = rows(con, f"""
        WITH r AS (SELECT * FROM requests WHERE ts >= ? AND ts < ?),
        browsing AS (SELECT DISTINCT client_ip, user_agent FROM r WHERE regexp_matches(coalesce(endpoint, path, ''), '{static}'))
        SELECT r.token, r.client_ip, date_trunc('hour', r.ts) AS hour, bool_or(b.client_ip IS NOT NULL) AS static
        FROM r LEFT JOIN browsing b ON b.client_ip = r.client_ip AND b.user_agent IS NOT DISTINCT FROM r.user_agent
        WHERE r.token IN (SELECT unnest(CAST(? AS VARCHAR[])))
        GROUP BY ALL""", [window.start, window.end, tokens])
    nets_in_hour: dict[tuple, set[str]] = defaultdict(set)
    seen = []
    for token, ip, hour, static in per_hour:
        net = net_key(ip) if ip else None
        if net:
            nets_in_hour[(token, hour)].add(net)
            seen.append((token, net, hour, static))
    quiet_hours: dict[tuple, set] = defaultdict(set)
    owners: dict[str, set[str]] = defaultdict(set)
    for token, net, hour, static in seen:
        if static:
            owners[token].add(net)
        if len(nets_in_hour[(token, hour)]) <= 2:
            quiet_hours[(token, net)].add(hour)
    browsed = set(owners)  # a person's token: where they browse is decisive, a replaying server never loads pages
    for (token, net), hours in quiet_hours.items():
        if len(hours) >= min_hours and token not in browsed:
            owners[token].add(net)
    used: dict[str, set[str]] = defaultdict(set)
    for token, net, _, _ in seen:
        used[token].add(net)
    # Thieves on the owner's own networks can't be told apart there: then the token has no separate owner networks.
    return {t: nets for t, nets in owners.items() if used[t] - nets}
