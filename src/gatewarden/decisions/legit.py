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
from gatewarden.features import STATIC_PATH
from gatewarden.replay import window_source

# Findings that say a credential is used by someone other than its owner: the owner is a victim, not the abuser.
VICTIM_METRICS = (("token_ip_fanout", None), ("auth_abuse", "expired_token_requests"))
# Findings that don't make the holder an abuser either: a burst is throttled at the key's own pace, not stopped.
RATE_METRICS = (("burst", None),)


def build(con: duckdb.DuckDBPyConnection, window: Window, supporting: list[str], into: str = "gw_legit",
          min_hours: int = 3, from_win: bool = False) -> None:
    """Temp tables `into`(req_key, token) of legitimate-looking requests, `into`_tokens(token) and
    `into`_owner_nets(token, net), the owner networks of stolen tokens (`owner_networks`).
    With `from_win`, the temp table `win` holds this window's features (net, is_static) and is read instead
    of deriving them again from `requests`."""
    if from_win:
        requests = "SELECT req_key, token, ts, client_ip, user_agent, net, is_static FROM win"
    else:
        static = STATIC_PATH.replace("'", "''")
        requests = f"""SELECT req_key, token, ts, client_ip, user_agent, gw_net(client_ip, ip_num) AS net,
                              coalesce(regexp_matches(coalesce(endpoint, path), '{static}'), false) AS is_static
                       FROM ({window_source(window.start, window.end)})"""
    # `r` is read twice; from `win` two scans cost less than writing a copy of the day, the regex path keeps one copy.
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE {into}_requests AS
    WITH r AS {"NOT MATERIALIZED" if from_win else "MATERIALIZED"} ({requests}),
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
    con.execute(f"CREATE OR REPLACE TEMP TABLE {into}_owner_nets AS {_owner_networks_sql(into, min_hours)}", {"tokens": victims})
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE {into} AS
    SELECT req_key, token FROM {into}_requests
    WHERE token IN (SELECT token FROM {into}_tokens) OR (token IS NULL AND browses)
    UNION ALL
    SELECT req_key, token FROM {into}_requests SEMI JOIN {into}_owner_nets USING (token, net)""")
    con.execute(f"DROP TABLE {into}_requests")  # a row per request of the day: later stages want the memory


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


def owner_networks(con: duckdb.DuckDBPyConnection, legit: str = "gw_legit") -> dict[str, set[str]]:
    """Per stolen token, the networks where its owner is established, as `build` found them for the table `legit`."""
    owners: dict[str, set[str]] = defaultdict(set)
    for token, net in rows(con, f"SELECT token, net FROM {legit}_owner_nets"):
        owners[token].add(net)
    return dict(owners)


def _owner_networks_sql(into: str, min_hours: int) -> str:
    """(token, net) for the tokens in $tokens, from `into`_requests: the networks where the owner is established,
    active in >= `min_hours` quiet hours (hours in which the token used at most two networks, i.e. outside a
    fan-out) or loading pages there (a person's browser: then where they browse is decisive, a replaying server
    never loads pages).
    Only tokens that also used other networks have owner networks: thieves on the owner's own networks can't be
    told apart there, and then the token has none."""
    return f"""
    WITH per_hour AS MATERIALIZED (
        SELECT token, net, date_trunc('hour', ts) AS hour, bool_or(browses) AS static FROM {into}_requests
        WHERE token IN (SELECT unnest(CAST($tokens AS VARCHAR[]))) AND net IS NOT NULL GROUP BY ALL),
    quiet AS (SELECT token, hour FROM per_hour GROUP BY ALL HAVING count(*) <= 2),
    browsed AS (SELECT DISTINCT token, net FROM per_hour WHERE static),
    owners AS (
        SELECT token, net FROM browsed
        UNION
        SELECT token, net FROM per_hour SEMI JOIN quiet USING (token, hour)
        WHERE token NOT IN (SELECT token FROM browsed) GROUP BY ALL HAVING count(*) >= {int(min_hours)}),
    used AS (SELECT token, count(DISTINCT net) AS nets FROM per_hour GROUP BY token)
    SELECT token, net FROM owners JOIN used USING (token)
    WHERE used.nets > (SELECT count(*) FROM owners o WHERE o.token = owners.token)
    ORDER BY token, net"""
