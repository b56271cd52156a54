"""Attacks that show up on tokens: a leaked key, free-tier token rotation, a quota burst, replayed expired JWTs."""

from __future__ import annotations

import numpy as np
import polars as pl

from gatewarden.generator import catalog as c
from gatewarden.generator.benign_api import authorization, machine_score
from gatewarden.generator.day import Day
from gatewarden.generator.frame import api_requests, bearer, mint_jwts, token_identity
from gatewarden.generator.rand import DAY_MS, HOUR_MS, expand, hex_strings, ipv4_text, pick, strings
from gatewarden.generator.world import CLOUDS, COUNTRIES, addresses, ip_texts, residential_networks

ATTACK = {"entity_scope": "token", "expected_detector": "token_ip_fanout"}


def mixed_networks(rng: np.random.Generator, n: int, residential_share: float) -> np.ndarray:
    """Networks for attacker addresses: residential proxies in many countries, and rented servers."""
    home = residential_networks(rng, rng.choice(COUNTRIES, size=n))
    return np.where(rng.random(n) < residential_share, home, rng.choice(CLOUDS, size=n))


def window(rng: np.random.Generator, day: Day, min_hours: float, max_hours: float) -> tuple[int, int]:
    length = int(rng.uniform(min_hours, max_hours) * HOUR_MS)
    return day.start_ms + int(rng.integers(0, DAY_MS - length)), length


def leaked_token(day: Day) -> pl.DataFrame:
    """A paying customer's key, posted somewhere public, used at once from many networks for expensive calls."""
    rng = day.rng("attack_leaked_token")
    customers = day.world.sdk_customers
    key = str(customers["key"][int(rng.integers(0, len(customers)))])
    n_ips = day.size(rng, 40, 400)
    nets = mixed_networks(rng, n_ips, 0.6)
    ips = ip_texts(rng, nets, v6_share=0.2)
    who, _ = expand(1 + rng.geometric(0.25, size=n_ips))
    n = len(who)
    start, length = window(rng, day, 2, 8)
    codes = pick(rng, [c.IMAGE, c.CHAT, c.MODELS], n, [0.45, 0.5, 0.05]).astype(np.int64)
    stacks = c.AUTOMATION + c.SDKS
    device = rng.integers(0, len(stacks), size=n_ips)[who]
    return api_requests(rng, start + rng.integers(0, length, size=n), codes, ips[who], nets[who], stacks, device,
                        auth=authorization(np.full(n, key)), bot_score=machine_score(rng, n), scenario="attack_leaked_token",
                        entity_value=token_identity(key), **ATTACK)


def token_rotation(day: Day) -> pl.DataFrame:
    """Free-tier farming: one address (or one /24) signs up token after token, a few calls on each."""
    rng = day.rng("attack_token_rotation")
    net = int(rng.choice(CLOUDS + (int(residential_networks(rng, np.array(["US"]))[0]),)))
    base = int(addresses(rng, np.array([net]))[0]) & ~0xFF
    one_ip = rng.random() < 0.6
    n_tokens = day.size(rng, 50, 500)
    tokens = strings(rng, n_tokens, 24, "key_")
    who, pos = expand(1 + rng.poisson(1.2, size=n_tokens))
    n = len(who)
    start, length = window(rng, day, 1, 5)
    # Tokens are used one after another: each lives for a minute or two, then the next one is signed up.
    ts = start + (who * length) // n_tokens + pos * rng.integers(2_000, 40_000, size=n)
    host = np.full(n, 1 + int(rng.integers(0, 254))) if one_ip else rng.integers(1, 255, size=n)
    codes = pick(rng, [c.CHAT, c.MODELS, c.IMAGE], n, [0.85, 0.1, 0.05]).astype(np.int64)
    cidr = ipv4_text(np.array([base])).item() + "/24"
    frame = api_requests(rng, ts, codes, ipv4_text(base + host).to_numpy(), np.full(n, net), c.AUTOMATION,
                         np.full(n, int(rng.integers(0, len(c.AUTOMATION)))), auth=tokens[who].astype(object),
                         bot_score=machine_score(rng, n), scenario="attack_token_rotation",
                         entity_scope="ip" if one_ip else "cidr", expected_detector="ip_token_fanout")
    over_quota = rng.random(n) < 0.2
    return frame.with_columns(
        entity_value=pl.col("client_ip") if one_ip else pl.lit(cidr),
        status=pl.when(pl.Series(over_quota)).then(429).otherwise(pl.col("status")),
    )


def quota_burst(day: Day) -> pl.DataFrame:
    """A quiet key (a few calls an hour) suddenly fires hundreds of calls within minutes."""
    rng = day.rng("attack_quota_burst")
    customers = day.world.sdk_customers
    quietest_third = np.argsort(customers["rate"].to_numpy(), kind="stable")[: max(1, len(customers) // 3)]
    who = customers[int(rng.choice(quietest_third))]
    n = day.size(rng, 150, 1200)
    start, length = window(rng, day, 0.05, 0.2)
    ts = start + np.sort(rng.integers(0, length, size=n))
    codes = np.where(rng.random(n) < 0.9, c.CHAT, c.IMAGE)
    key = str(who["key"][0])
    frame = api_requests(rng, ts, codes, np.full(n, who["ip"][0], dtype=object), np.full(n, who["net"][0]), c.SDKS,
                         np.full(n, who["device"][0]), auth=authorization(np.full(n, key)), bot_score=machine_score(rng, n),
                         scenario="attack_quota_burst", entity_scope="token", entity_value=token_identity(key),
                         expected_detector="burst")
    # The rate limiter starts refusing part-way through the burst.
    limited = (np.arange(n) > n * 0.4) & (rng.random(n) < 0.6)
    return frame.with_columns(status=pl.when(pl.Series(limited)).then(429).otherwise(pl.col("status")))


def expired_tokens(day: Day) -> pl.DataFrame:
    """Access tokens lifted from browsers days ago, replayed long after their `exp`; the API answers 401."""
    rng = day.rng("attack_expired_token")
    users = day.world.browser_users
    n_tokens = day.size(rng, 2, 8)
    subjects = users["user_id"].to_numpy()[rng.choice(len(users), size=n_tokens, replace=False)]
    issued = (day.start_ms - rng.integers(2, 20, size=n_tokens) * DAY_MS) // 1000
    tokens = mint_jwts(subjects, hex_strings(rng, n_tokens, 16), issued)
    who, _ = expand(rng.integers(10, 60, size=n_tokens))
    n = len(who)
    nets = rng.choice(CLOUDS, size=n_tokens)
    ips = ip_texts(rng, nets)
    codes = pick(rng, [c.CHAT, c.HISTORY, c.IMAGE], n, [0.6, 0.3, 0.1]).astype(np.int64)
    start, length = window(rng, day, 1, 12)
    identities = np.array([f"jwt:{s}" for s in subjects], dtype=object)
    frame = api_requests(rng, start + rng.integers(0, length, size=n), codes, ips[who], nets[who], c.AUTOMATION,
                         rng.integers(0, len(c.AUTOMATION), size=n_tokens)[who], auth=bearer(tokens)[who],
                         bot_score=machine_score(rng, n), scenario="attack_expired_token", entity_scope="token",
                         entity_value=identities[who], expected_detector="auth_abuse")
    return frame.with_columns(status=pl.lit(401, dtype=pl.Int64), bytes_out=pl.lit(162, dtype=pl.Int64),
                              duration_ms=pl.col("duration_ms").clip(upper_bound=25))

