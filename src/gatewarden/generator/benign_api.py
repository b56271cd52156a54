"""Machine-to-machine and other non-session traffic that is legitimate, some of it hard to tell apart.

- SDK integrations: servers in clouds calling with their key, steady but irregular, following
  their customers' day.
- The batch customer: one paying key on AWS embedding a corpus at a fixed pace for hours.
- Googlebot from Google's published range crawling the docs.
- Travellers: one key used from two or three countries, one after another.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from gatewarden.generator import catalog as c
from gatewarden.generator.day import Day
from gatewarden.generator.frame import bearer, frame
from gatewarden.generator.rand import DAY_MS, HOUR_MS, diurnal_times, expand, pick
from gatewarden.generator.world import ASN_INDEX, network_columns

SDK_ACTIONS = ([c.CHAT, c.IMAGE, c.MODELS, c.HISTORY], [0.78, 0.06, 0.06, 0.1])


def authorization(keys: np.ndarray) -> np.ndarray:
    """How the client sends its key: raw secrets as `Bearer sk-...`; key ids in the header as they are."""
    keys = keys.astype(str)
    return np.where(np.char.startswith(keys, "sk-"), bearer(keys), keys.astype(object))


def machine_score(rng: np.random.Generator, n: int) -> np.ndarray:
    """A CDN scores server-to-server clients as automated whether or not they are welcome."""
    return rng.integers(1, 30, size=n)


def sdk(day: Day) -> pl.DataFrame:
    rng = day.rng("benign_sdk")
    customers = day.world.sdk_customers
    customers = customers[np.flatnonzero(rng.random(len(customers)) < 0.93)]
    per_customer = rng.poisson(customers["rate"].to_numpy() * 24)
    who, _ = expand(per_customer)
    n = len(who)
    cust = customers[who]
    tz = np.array([c.TZ_HOURS[x] for x in cust["country"].to_list()], dtype=np.int64)
    # Servers follow their users' day, with a floor of cron jobs and queues around the clock.
    around_the_clock = rng.random(n) < 0.35
    ts = np.where(around_the_clock, day.start_ms + rng.integers(0, DAY_MS, size=n), diurnal_times(rng, n, tz, day.start_ms))
    embed = rng.random(n) < cust["embed_share"].to_numpy()
    codes = np.where(embed, c.EMBED, pick(rng, SDK_ACTIONS[0], n, SDK_ACTIONS[1]).astype(np.int64))
    status, nbytes, duration = c.respond(rng, codes)
    methods, hosts = c.methods_hosts(codes)
    ip = np.where(rng.random(n) < 0.7, cust["ip"].to_numpy(), cust["ip2"].to_numpy())
    return frame(
        n, ts_ms=ts, client_ip=ip, **network_columns(cust["net"].to_numpy()), method=methods, host=hosts,
        path=c.paths(rng, codes), status=status, bytes_out=nbytes, duration_ms=duration,
        **c.profile_columns(c.SDKS, cust["device"].to_numpy()), auth=authorization(cust["key"].to_numpy()),
        bot_score=machine_score(rng, n), scenario="benign_sdk",
    )


def batch_customer(day: Day) -> pl.DataFrame:
    """Embedding a corpus: a job every night, one request every few seconds like clockwork."""
    rng = day.rng("benign_batch_customer")
    who = day.world.batch_customer
    start = day.start_ms + int(rng.integers(0, 5)) * HOUR_MS + int(rng.integers(0, HOUR_MS))
    hours = float(rng.uniform(2.5, 4.5))
    interval = 6_000 / max(day.scale, 0.05)
    n = int(hours * HOUR_MS / interval)
    ts = (start + np.arange(n) * interval + rng.normal(0, 0.02 * interval, size=n)).astype(np.int64)
    codes = np.full(n, c.EMBED)
    status, nbytes, duration = c.respond(rng, codes)
    key = who["key"]
    return frame(
        n, ts_ms=ts, client_ip=np.array(who["ips"], dtype=object)[rng.integers(0, 2, size=n)],
        **network_columns(np.full(n, ASN_INDEX[16509])), method="POST", host=c.API, path="/v1/embeddings",
        status=status, bytes_out=nbytes, duration_ms=duration, **c.profile_columns(c.SDKS, np.zeros(n, dtype=np.int64)),
        auth=f"Bearer {key}", bot_score=machine_score(rng, n), scenario="benign_batch_customer",
        entity_scope="token", entity_value=key,
    )


def search_crawler(day: Day) -> pl.DataFrame:
    rng = day.rng("benign_search_crawler")
    n = day.count(400, floor=50)
    ts = day.start_ms + np.sort(rng.integers(0, DAY_MS, size=n))
    codes = pick(rng, [c.DOC, c.ROBOTS, c.SITEMAP, c.JS, c.CSS, c.SHARE], n, [0.72, 0.04, 0.04, 0.06, 0.04, 0.1]).astype(np.int64)
    status, nbytes, duration = c.respond(rng, codes)
    methods, hosts = c.methods_hosts(codes)
    return frame(
        n, ts_ms=ts, client_ip=np.array(day.world.crawler_ips, dtype=object)[rng.integers(0, len(day.world.crawler_ips), n)],
        **network_columns(np.full(n, ASN_INDEX[15169])), method=methods, host=hosts, path=c.paths(rng, codes),
        status=status, bytes_out=nbytes, duration_ms=duration, user_agent=c.GOOGLEBOT.user_agent, ja4=c.GOOGLEBOT.ja4,
        ja3=c.GOOGLEBOT.ja3, bot_score=1, scenario="benign_search_crawler", entity_scope="asn", entity_value="15169",
    )


def travellers(day: Day) -> pl.DataFrame:
    rng = day.rng("benign_traveller")
    frames = []
    for person in day.world.travellers:
        n = day.count(160, floor=40)
        ts = day.start_ms + np.sort(rng.integers(0, DAY_MS, size=n))
        # Two moves during the day, hours apart: a flight, then a hotel.
        moves = day.start_ms + np.sort(rng.choice(np.arange(4, 21), size=2, replace=False)) * HOUR_MS
        leg = np.searchsorted(moves, ts)
        codes = pick(rng, [c.CHAT, c.IMAGE, c.HISTORY, c.MODELS], n, [0.7, 0.1, 0.15, 0.05]).astype(np.int64)
        status, nbytes, duration = c.respond(rng, codes)
        methods, hosts = c.methods_hosts(codes)
        device = np.full(n, person["device"])
        frames.append(frame(
            n, ts_ms=ts, client_ip=np.array(person["ips"], dtype=object)[leg], **network_columns(person["nets"][leg]),
            method=methods, host=hosts, path=c.paths(rng, codes), status=status, bytes_out=nbytes, duration_ms=duration,
            **c.profile_columns(c.BROWSERS, device), auth=person["key"],
            bot_score=rng.integers(45, 99, size=n), accept_language=c.LANGUAGES["US"],
            scenario="benign_traveller", entity_scope="token", entity_value=person["key"],
        ))
    return pl.concat(frames)
