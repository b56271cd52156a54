"""The rate-limit backtest against a plain fixed-window limiter written out request by request."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewarden import ratelimits

DAY = datetime(2026, 11, 20)
# Times cluster inside a few minutes (cuts fall mid-minute, ties happen) and spread over the day (many buckets).
offsets = st.one_of(st.integers(0, 179), st.integers(0, 86_399)).map(lambda s: timedelta(seconds=s))
requests = st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), offsets, st.booleans(), st.sampled_from(["/x", "/y"])),
                    min_size=1, max_size=300)
limits = st.lists(st.tuples(st.sampled_from(["*", "/x"]), st.sampled_from([60, 600, 3600, 86400]), st.integers(1, 40)),
                  min_size=1, max_size=6, unique_by=lambda t: (t[0], t[1]))


def limiter(rows: list[tuple], endpoint: str, window_s: int, lim: int) -> dict[str, int]:
    """Each entity's buckets in arrival order (time, then rowid): what goes beyond `lim` is rejected."""
    seen: dict[tuple, int] = defaultdict(int)
    rejected = {"legit": 0, "other": 0}
    entities: dict[str, set] = {"legit": set(), "other": set()}
    for _req_key, entity, ts, legit, ep in sorted(rows, key=lambda r: (r[2], r[0])):
        if endpoint not in ("*", ep):
            continue
        bucket = (entity, int((ts - datetime(1970, 1, 1)).total_seconds()) // window_s)
        seen[bucket] += 1
        if seen[bucket] > lim:
            kind = "legit" if legit else "other"
            rejected[kind] += 1
            entities[kind].add(entity)
    return {"legit_requests_throttled": rejected["legit"], "legit_entities_throttled": len(entities["legit"]),
            "other_requests_throttled": rejected["other"], "other_entities_throttled": len(entities["other"])}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests, limits)
def test_backtest_matches_a_request_by_request_limiter(reqs: list[tuple], lims: list[tuple]) -> None:
    rows = [(i, entity, DAY + offset, legit, endpoint) for i, (entity, offset, legit, endpoint) in enumerate(reqs)]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("""CREATE TEMP TABLE rl_win (req_key BIGINT, ts TIMESTAMP, endpoint VARCHAR, token VARCHAR, client_ip VARCHAR,
                                            ja4 VARCHAR, legit BOOLEAN)""")
    con.executemany("INSERT INTO rl_win VALUES (?, ?, ?, ?, NULL, NULL, ?)",
                    [[req_key, ts, ep, entity, legit] for req_key, entity, ts, legit, ep in rows])
    ratelimits.keyed_view(con)
    published = [{"endpoint": ep, "key": "token", "window_s": w, "limit": lim} for ep, w, lim in lims]
    ratelimits.backtest(con, published)
    for limit in published:
        expected = limiter(rows, limit["endpoint"], limit["window_s"], limit["limit"])
        got = {k: limit["backtest"][k] for k in expected}
        assert got == expected, limit
        total = sum(1 for r in rows if limit["endpoint"] in ("*", r[4]))
        assert limit["backtest"]["legit_requests"] + limit["backtest"]["other_requests"] == total
