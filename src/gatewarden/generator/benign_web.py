"""People using the web app and the mobile app: browsers, a corporate NAT, a mobile carrier's CGNAT.

A web session loads the page and its static assets, logs in (first visit of the day) or refreshes
its short-lived JWT, lists the models, then works with human think-time between actions. The
mobile app skips the page and assets. Every session has its own cookie and access token.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from gatewarden.generator import catalog as c
from gatewarden.generator.day import Day
from gatewarden.generator.frame import bearer, frame, mint_jwts
from gatewarden.generator.rand import diurnal_times, expand, grouped_offsets, hex_strings, lognormal_int, pick
from gatewarden.generator.world import ASN_INDEX, network_columns

WEB_PREFIX = np.array([c.PAGE, c.JS, c.CSS, c.IMG, c.FAVICON, c.LOGIN, c.MODELS])
APP_PREFIX = np.array([c.LOGIN, c.MODELS])
WEB_ACTIONS = ([c.CHAT, c.HISTORY, c.IMAGE, c.GRAPHQL, c.ACCOUNT, c.MODELS, c.DOC, c.SHARE, c.LOGOUT],
               [0.47, 0.13, 0.08, 0.1, 0.07, 0.03, 0.05, 0.05, 0.02])
APP_ACTIONS = ([c.CHAT, c.HISTORY, c.IMAGE, c.GRAPHQL, c.MODELS], [0.58, 0.2, 0.1, 0.08, 0.04])
MAX_SESSION_MS = 3_300_000  # sessions end before their one-hour access token does


@dataclass
class Sessions:
    """One row per session; `people` holds the person's attributes aligned with the sessions."""

    people: pl.DataFrame  # user_id, net, device, lang
    start_ms: np.ndarray
    first_of_day: np.ndarray
    ip: np.ndarray
    entity_value: np.ndarray | None = None


def daily_sessions(rng: np.random.Generator, day: Day, people: pl.DataFrame, per_person: np.ndarray,
                   tz: np.ndarray | int | None = None) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """Expand people into their sessions for the day, sorted by time within each person."""
    who, _ = expand(per_person)
    zones = people["tz"].to_numpy()[who] if tz is None else tz
    starts = diurnal_times(rng, len(who), zones, day.start_ms)
    order = np.lexsort((starts, who))
    who, starts = who[order], starts[order]
    first = np.r_[True, who[1:] != who[:-1]]
    return people[who], starts, first


def session_requests(rng: np.random.Generator, s: Sessions, profiles: tuple[c.Profile, ...], web: bool,
                     scenario: str, entity_scope: str | None = None) -> pl.DataFrame:
    n_sessions = len(s.start_ms)
    prefix = WEB_PREFIX if web else APP_PREFIX
    actions, weights = WEB_ACTIONS if web else APP_ACTIONS
    n_actions = np.minimum(1 + rng.geometric(0.12, size=n_sessions), 60)
    group, pos = expand(len(prefix) + n_actions)
    n = len(group)
    in_prefix = pos < len(prefix)
    codes = np.where(in_prefix, prefix[np.minimum(pos, len(prefix) - 1)], pick(rng, actions, n, weights).astype(np.int64))
    codes = np.where((codes == c.LOGIN) & ~s.first_of_day[group], c.REFRESH, codes)

    gaps = np.where(np.isin(codes, c.STATIC), rng.integers(15, 250, n),
                    np.where(np.isin(codes, (c.LOGIN, c.REFRESH)), rng.integers(800, 6000, n),
                             np.where(in_prefix, rng.integers(150, 900, n), lognormal_int(rng, 22_000, 0.9, n, 1500, 600_000))))
    offsets = grouped_offsets(gaps, group, pos)
    length = np.maximum.reduceat(offsets, np.flatnonzero(pos == 0))
    offsets = (offsets * np.minimum(1.0, MAX_SESSION_MS / np.maximum(length, 1))[group]).astype(np.int64)
    ts = s.start_ms[group] + offsets

    users = s.people["user_id"].to_numpy()
    jwt = mint_jwts(users, hex_strings(rng, n_sessions, 16), (s.start_ms + 10_000) // 1000)
    status, nbytes, duration = c.respond(rng, codes)
    cached = np.isin(codes, c.STATIC) & ~s.first_of_day[group] & (rng.random(n) < 0.7)
    status, nbytes = np.where(cached, 304, status), np.where(cached, 0, nbytes)
    typo = (codes == c.LOGIN) & (rng.random(n) < 0.05)
    status = np.where(typo, 401, status)

    referer = np.where(codes == c.PAGE, pick(rng, [None, "https://www.google.com/", None], n),
                       np.where(np.isin(codes, c.STATIC), f"{c.APP_URL}/", f"{c.APP_URL}/chat")) if web else None
    methods, hosts = c.methods_hosts(codes)
    device = s.people["device"].to_numpy()[group]
    human = (30 + 69 * rng.beta(4.0, 1.4, size=n_sessions)).astype(np.int64)
    entity = None if s.entity_value is None else s.entity_value[group]
    return frame(
        n, ts_ms=ts, client_ip=s.ip[group], **network_columns(s.people["net"].to_numpy()[group]),
        method=methods, host=hosts, path=c.paths(rng, codes), status=status, bytes_out=nbytes, duration_ms=duration,
        **c.profile_columns(profiles, device), referer=referer,
        auth=np.where(c.NEEDS_TOKEN[codes], bearer(jwt)[group], None),
        session_id=hex_strings(rng, n_sessions, 32)[group], bot_score=human[group],
        graphql_query=np.where(codes == c.GRAPHQL, pick(rng, c.BENIGN_GRAPHQL, n), None),
        accept_language=s.people["lang"].to_numpy()[group],
        scenario=scenario, entity_scope=entity_scope, entity_value=entity,
    )


def browsers(day: Day) -> pl.DataFrame:
    rng = day.rng("benign_browser")
    pool = day.world.browser_users
    weights = pool["activity"].to_numpy()
    active = np.sort(rng.choice(len(pool), size=min(len(pool), day.count(140, floor=20)), replace=False, p=weights / weights.sum()))
    people = pool[active]
    per_person = 1 + np.minimum(rng.poisson(0.5 * people["activity"].to_numpy()), 6)
    sessions, starts, first = daily_sessions(rng, day, people, per_person)
    ips = sessions["ip"].to_numpy()
    return session_requests(rng, Sessions(sessions, starts, first, ips), c.BROWSERS, True, "benign_browser")


def corporate_nat(day: Day) -> pl.DataFrame:
    rng = day.rng("benign_corporate_nat")
    nat, staff = day.world.corporate
    present = staff[np.flatnonzero(rng.random(len(staff)) < 0.75)]
    per_person = 1 + rng.poisson(0.4, size=len(present))
    sessions, starts, first = daily_sessions(rng, day, present, per_person)
    # The NAT maps each workstation to one of its addresses; both addresses carry everyone's traffic.
    ip = np.array(nat, dtype=object)[rng.integers(0, len(nat), size=len(starts))]
    return session_requests(rng, Sessions(sessions, starts, first, ip, ip), c.BROWSERS[:2] + c.BROWSERS[4:5], True,
                            "benign_corporate_nat", "ip")


def carrier_cgnat(day: Day) -> pl.DataFrame:
    rng = day.rng("benign_cgnat")
    pool, users = day.world.carrier
    present = users[np.flatnonzero(rng.random(len(users)) < 0.5)]
    per_person = 1 + rng.poisson(0.3, size=len(present))
    sessions, starts, first = daily_sessions(rng, day, present, per_person)
    sessions = sessions.with_columns(net=pl.lit(ASN_INDEX[21928]))
    ip = np.array(pool, dtype=object)[rng.integers(0, len(pool), size=len(starts))]
    return session_requests(rng, Sessions(sessions, starts, first, ip, ip), c.MOBILE, False, "benign_cgnat", "ip")
