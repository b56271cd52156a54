"""GraphQL resource exhaustion: deeply nested queries and queries with hundreds of aliases."""

from __future__ import annotations

import numpy as np
import polars as pl

from gatewarden.generator import catalog as c
from gatewarden.generator.attacks_keys import mixed_networks, window
from gatewarden.generator.benign_api import machine_score
from gatewarden.generator.day import Day
from gatewarden.generator.frame import api_requests
from gatewarden.generator.rand import expand, strings
from gatewarden.generator.world import ip_texts

# A cycle through the schema's relations: chats have messages, a message belongs to a chat...
CYCLE = ("chats(first: 100)", "edges", "node", "messages(first: 100)", "edges", "node", "chat")


def depth_bomb(depth: int) -> str:
    """A query whose selection sets nest `depth` levels deep."""
    fields = ["viewer"] + [CYCLE[i % len(CYCLE)] for i in range(depth - 1)]
    return "query Deep { " + " { ".join(fields) + " { id" + " }" * depth + " }"


def alias_bomb(aliases: int) -> str:
    """One query asking for the same expensive field under `aliases` different names."""
    body = " ".join(f'a{i}: chat(id: "{i}") {{ messages(first: 100) {{ edges {{ node {{ id content }} }} }} }}' for i in range(aliases))
    return "query Wide { " + body + " }"


def _graphql_attack(day: Day, scenario: str, documents: list[str], weight: np.ndarray) -> pl.DataFrame:
    rng = day.rng(scenario)
    n_attackers = int(rng.integers(1, 4))
    tokens = strings(rng, n_attackers, 24, "key_")
    nets = mixed_networks(rng, n_attackers, 0.3)
    ips = ip_texts(rng, nets)
    who, _ = expand([day.size(rng, 20, 150) for _ in range(n_attackers)])
    n = len(who)
    start, length = window(rng, day, 0.5, 4)
    doc = rng.integers(0, len(documents), size=n)
    frame = api_requests(rng, start + rng.integers(0, length, size=n), np.full(n, c.GRAPHQL), ips[who], nets[who], c.AUTOMATION,
                         rng.integers(0, len(c.AUTOMATION), size=n_attackers)[who], auth=tokens[who].astype(object),
                         graphql_query=np.array(documents, dtype=object)[doc], bot_score=machine_score(rng, n), scenario=scenario,
                         entity_scope="token", entity_value=tokens[who].astype(object), expected_detector="graphql")
    # The server does the work before it answers: time grows with the query, until the gateway gives up.
    cost = (weight[doc] * rng.uniform(0.7, 1.3, size=n)).astype(np.int64)
    timed_out = cost > 30_000
    return frame.with_columns(
        duration_ms=pl.Series(np.minimum(cost, 30_000)),
        status=pl.Series(np.where(timed_out, 504, 200)),
        bytes_out=pl.Series(np.where(timed_out, 160, cost * 40)),
    )


def depth_bombs(day: Day) -> pl.DataFrame:
    depths = np.arange(15, 41)
    return _graphql_attack(day, "attack_graphql_depth_bomb", [depth_bomb(int(d)) for d in depths], 2.0 ** (depths / 3.0) * 10)


def alias_bombs(day: Day) -> pl.DataFrame:
    counts = np.array([100, 150, 200, 300, 400, 500, 600])
    return _graphql_attack(day, "attack_graphql_alias_bomb", [alias_bomb(int(k)) for k in counts], counts * 45.0)
