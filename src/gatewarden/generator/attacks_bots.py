"""Automation attacks: a datacenter bot farm, low-and-slow residential scraping, sequence-skipping
bots, endpoint probing and credential stuffing."""

from __future__ import annotations

import numpy as np
import polars as pl

from gatewarden.generator import catalog as c
from gatewarden.generator.attacks_keys import mixed_networks, window
from gatewarden.generator.benign_api import machine_score
from gatewarden.generator.day import Day
from gatewarden.generator.frame import api_requests, bearer, frame, mint_jwts
from gatewarden.generator.rand import DAY_MS, expand, grouped_offsets, hex_strings, pick, strings
from gatewarden.generator.world import ASN_INDEX, COUNTRIES, NETWORKS, ip_texts, network_columns, residential_networks

FARM_NETWORKS = tuple(ASN_INDEX[a] for a in (14061, 16276, 24940, 20473, 63949))
# The scraper's stack: a Chrome user agent on a TLS library that is not Chrome, one language everywhere.
SCRAPER = c.Profile(c.BROWSERS[0].user_agent, "t13d1517h2_8daaf6152771_b1ff8ab2d16f", "bc6c386f480ee97b9d9e52d472b772d8")
SCRAPER_LANGUAGE = "en-US,en;q=0.5"
STUFFER = c.Profile("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
                    "Safari/537.36", "t13d1812h1_85036bcba153_375ca2c5e164", "4f55e3e2ebc7e5a4bfb7c1e6fb8a8e13")
PROBES = (
    "/.env", "/.env.production", "/.git/config", "/.git/HEAD", "/admin", "/admin/login", "/wp-login.php", "/wp-admin/",
    "/xmlrpc.php", "/phpmyadmin/", "/server-status", "/actuator/health", "/actuator/env", "/api/v2/debug",
    "/api/v2/debug/vars", "/v1/internal/users", "/v1/internal/metrics", "/v1/internal/keys", "/v1/admin/keys",
    "/config.json", "/backup.zip", "/db.sql", "/.aws/credentials", "/debug/pprof/", "/swagger.json", "/v2/api-docs",
    "/graphql/console", "/console", "/.DS_Store", "/cgi-bin/luci", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/v1/chat/completions/../../internal", "/v1/models?debug=1", "/_profiler", "/telescope/requests",
)
PROBE_STATUS = {"/admin": 403, "/admin/login": 403, "/v1/internal/users": 401, "/v1/internal/metrics": 401,
                "/v1/internal/keys": 401, "/v1/admin/keys": 403, "/.git/config": 403, "/.git/HEAD": 403, "/v1/models?debug=1": 200}
SCANNERS = ("Mozilla/5.0 zgrab/0.x", "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
            "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", "python-requests/2.32.3")


def bot_farm(day: Day) -> pl.DataFrame:
    """Rented servers in one hosting network, each polling the API on a timer with a script."""
    rng = day.rng("attack_dc_bot_farm")
    net = int(rng.choice(FARM_NETWORKS))
    n_ips = day.size(rng, 20, 200)
    ips = ip_texts(rng, np.full(n_ips, net))
    who, pos = expand(rng.integers(8, 40, size=n_ips))
    n = len(who)
    interval = rng.integers(20_000, 120_000, size=n_ips)[who]
    ts = day.start_ms + rng.integers(0, DAY_MS // 2, size=n_ips)[who] + grouped_offsets(
        (interval * rng.normal(1.0, 0.02, size=n)).astype(np.int64), who, pos)
    # Half the bots claim to be Chrome; their TLS stack still says python.
    stacks = c.AUTOMATION + (c.Profile(c.BROWSERS[0].user_agent, c.AUTOMATION[0].ja4, c.AUTOMATION[0].ja3),)
    device = rng.integers(0, len(stacks), size=n_ips)[who]
    tokens = strings(rng, int(rng.integers(3, 16)), 24, "key_")
    codes = pick(rng, [c.CHAT, c.MODELS, c.IMAGE], n, [0.7, 0.15, 0.15]).astype(np.int64)
    frame_ = api_requests(rng, ts, codes, ips[who], np.full(n, net), stacks, device,
                          auth=tokens[rng.integers(0, len(tokens), size=n_ips)][who].astype(object),
                          bot_score=machine_score(rng, n), scenario="attack_dc_bot_farm", entity_scope="asn",
                          entity_value=str(NETWORKS[net].asn), expected_detector="asn_automation")
    return frame_.with_columns(status=pl.when(pl.Series(rng.random(n) < 0.1)).then(429).otherwise(pl.col("status")))


def residential_scraping(day: Day) -> pl.DataFrame:
    """Thousands of residential proxy exits, one to four requests each all day, one client fingerprint."""
    rng = day.rng("attack_residential_scraping")
    n_ips = day.size(rng, 500, 5000)
    nets = residential_networks(rng, rng.choice(COUNTRIES, size=n_ips))
    ips = ip_texts(rng, nets, v6_share=0.3)
    who, _ = expand(np.minimum(rng.geometric(0.7, size=n_ips), 4))
    n = len(who)
    codes = pick(rng, [c.SHARE, c.CHAT, c.DOC], n, [0.65, 0.25, 0.1]).astype(np.int64)
    free = strings(rng, n_ips, 24, "key_").astype(object)[who]
    return api_requests(rng, day.start_ms + rng.integers(0, DAY_MS, size=n), codes, ips[who], nets[who], (SCRAPER,),
                        np.zeros(n, dtype=np.int64), auth=np.where(codes == c.CHAT, free, None),
                        bot_score=rng.integers(30, 61, size=n), accept_language=SCRAPER_LANGUAGE,
                        scenario="attack_residential_scraping", entity_scope="fingerprint",
                        entity_value=f"{SCRAPER.ja4}|{SCRAPER.user_agent}", expected_detector="fingerprint_quota")


def sequence_skipping(day: Day) -> pl.DataFrame:
    """Headless browsers on throwaway accounts calling image generation directly: no page, no login, no models."""
    rng = day.rng("attack_sequence_skipping")
    n_bots = day.size(rng, 5, 40)
    accounts = strings(rng, n_bots, 16, "usr_")
    nets = mixed_networks(rng, n_bots, 0.5)
    ips = ip_texts(rng, nets)
    who, pos = expand(rng.integers(10, 60, size=n_bots))
    n = len(who)
    starts = day.start_ms + rng.integers(0, DAY_MS - 3_600_000, size=n_bots)
    ts = starts[who] + grouped_offsets(rng.integers(3_000, 15_000, size=n), who, pos)
    jwt = mint_jwts(accounts, hex_strings(rng, n_bots, 16), starts // 1000 - 60)
    codes = np.where(rng.random(n) < 0.7, c.IMAGE, c.CHAT)
    return api_requests(rng, ts, codes, ips[who], nets[who], c.BROWSERS, rng.integers(0, len(c.BROWSERS), size=n_bots)[who],
                        auth=bearer(jwt)[who], session_id=hex_strings(rng, n_bots, 32)[who], bot_score=rng.integers(20, 50, size=n),
                        referer=f"{c.APP_URL}/chat", accept_language=c.LANGUAGES["US"], scenario="attack_sequence_skipping",
                        entity_scope="token", entity_value=np.char.add("jwt:", accounts)[who].astype(object),
                        expected_detector="sequence")


def endpoint_probing(day: Day) -> pl.DataFrame:
    """Scanners walking a list of admin, debug and secret-file paths; almost everything is 404 or 403."""
    rng = day.rng("attack_endpoint_probing")
    n_ips = day.size(rng, 1, 6)
    nets = rng.choice(FARM_NETWORKS + (ASN_INDEX[16509],), size=n_ips)
    ips = ip_texts(rng, nets)
    who, pos = expand(rng.integers(40, 300, size=n_ips))
    n = len(who)
    ts = (day.start_ms + rng.integers(0, DAY_MS - 3_600_000, size=n_ips))[who] + grouped_offsets(
        rng.integers(200, 6_000, size=n), who, pos)
    probe = rng.integers(0, len(PROBES), size=n)
    paths = np.array(PROBES, dtype=object)[probe]
    status = np.array([PROBE_STATUS.get(p, 404) for p in PROBES])[probe]
    # Scanners repeat the list with small variations of case and suffix.
    paths = np.where(rng.random(n) < 0.2, np.char.add(paths.astype(str), pick(rng, ["~", ".bak", ".old", "/"], n).astype(str)),
                     paths).astype(object)
    ua = np.array(SCANNERS, dtype=object)[rng.integers(0, len(SCANNERS), size=n_ips)][who]
    return frame(n, ts_ms=ts, client_ip=ips[who], **network_columns(nets[who]),
                 method=np.where(rng.random(n) < 0.9, "GET", "POST").astype(object), host=c.API, path=paths,
                 status=status, bytes_out=rng.integers(150, 600, size=n), duration_ms=rng.integers(1, 15, size=n),
                 user_agent=ua, ja4=c.AUTOMATION[2].ja4, ja3=c.AUTOMATION[2].ja3, bot_score=machine_score(rng, n),
                 scenario="attack_endpoint_probing", entity_scope="ip", entity_value=ips[who], expected_detector="schema")


def credential_stuffing(day: Day) -> pl.DataFrame:
    """Leaked password lists tried through residential proxies, plus one server brute-forcing on its own."""
    rng = day.rng("attack_credential_stuffing")
    n_ips = day.size(rng, 100, 1000)
    nets = residential_networks(rng, rng.choice(COUNTRIES, size=n_ips))
    ips = ip_texts(rng, nets)
    who, _ = expand(rng.integers(1, 4, size=n_ips))
    start, length = window(rng, day, 2, 6)
    spread = api_requests(rng, start + rng.integers(0, length, size=len(who)), np.full(len(who), c.LOGIN), ips[who],
                          nets[who], (STUFFER,), np.zeros(len(who), dtype=np.int64), bot_score=rng.integers(5, 40, size=len(who)),
                          accept_language=c.LANGUAGES["US"], scenario="attack_credential_stuffing", entity_scope="fingerprint",
                          entity_value=f"{STUFFER.ja4}|{STUFFER.user_agent}", expected_detector="auth_abuse")
    net = int(rng.choice(FARM_NETWORKS))
    brute_ip = ip_texts(rng, np.array([net]))[0]
    m = day.size(rng, 200, 1000)
    b_start, _ = window(rng, day, 1, 2)
    brute = api_requests(rng, b_start + np.cumsum(rng.integers(500, 2_500, size=m)), np.full(m, c.LOGIN), np.full(m, brute_ip),
                         np.full(m, net), c.AUTOMATION, np.zeros(m, dtype=np.int64), bot_score=machine_score(rng, m),
                         scenario="attack_credential_stuffing", entity_scope="ip", entity_value=brute_ip,
                         expected_detector="auth_abuse")
    both = pl.concat([spread, brute])
    # A password list hits a real account now and then.
    hit = pl.Series(rng.random(len(both)) < 0.01)
    return both.with_columns(status=pl.when(hit).then(200).otherwise(401),
                             bytes_out=pl.when(hit).then(pl.col("bytes_out")).otherwise(96))
