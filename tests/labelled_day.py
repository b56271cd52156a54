"""A small labelled day of canonical JSONL: a benign population plus one of each attack the fan-out,
ASN, fingerprint and burst detectors are meant for, and their hard benign look-alikes.

Seed and scale change every count, address and time, so tests can check that thresholds derive
from the data rather than from one file.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np

from featurekit import CHROME, DAY, FIREFOX, SDK, minutes, req, write_day

BROWSER_JA4 = ("t13d1516h2_8daaf6152771_02713d6af862", "t13d1715h2_5b57614c22b0_3d5424432f57")
LANGS = ("en-US,en;q=0.9", "de-DE,de;q=0.9", "fr-FR,fr;q=0.8", "es-ES,es;q=0.9", "en-GB,en;q=0.8", "pt-BR,pt;q=0.9")


def build(folder: Path, seed: int, scale: float) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    records: list[dict] = []
    labels: list[tuple] = []

    def add(rec: dict, scenario: str, attack: bool, scope: str, value: str, detector: str = "") -> None:
        rec["request_id"] = f"{seed}-{len(records):07d}"
        records.append(rec)
        labels.append((rec["request_id"], scenario, str(attack).lower(), scope, value, detector))

    def ip(a: int) -> str:
        return f"{a}.{rng.integers(1, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 255)}"

    def t(lo: float = 0, hi: float = 1440) -> object:
        return DAY + minutes(float(rng.uniform(lo, hi)))

    asns = [int(a) for a in rng.choice(np.arange(3000, 9000), 40, replace=False)]
    countries = ("US", "DE", "FR", "GB", "BR", "IN", "JP", "NL")
    # Benign population: tokens on one or two addresses; browsers (human scores) and SDKs (automated scores).
    for i in range(int(150 * scale)):
        token, sdk = f"key_user{seed}x{i:04d}", rng.random() < 0.3
        homes = [ip(int(rng.integers(11, 99))) for _ in range(int(rng.integers(1, 3)))]
        asn, country = int(rng.choice(asns)), str(rng.choice(countries))
        ua = SDK.format(v=int(rng.integers(1, 9))) if sdk else CHROME.format(v=131)
        for _ in range(int(rng.integers(5, 40))):
            add(req(t(), client_ip=str(rng.choice(homes)), asn=asn, country=country, token=token, user_agent=ua,
                    bot_score=int(rng.integers(2, 25) if sdk else rng.integers(40, 99)),
                    ja4=BROWSER_JA4[0], accept_language=LANGS[0]), "benign", False, "token", token)
    # Anonymous browsing: many people sharing a few common browser fingerprints, several requests each.
    for _ in range(int(120 * scale)):
        addr, lang = ip(int(rng.integers(11, 99))), str(rng.choice(LANGS))
        start = float(rng.uniform(0, 1300))
        for j in range(int(rng.integers(4, 12))):
            add(req(DAY + minutes(start + j * float(rng.uniform(0.2, 3))), client_ip=addr, asn=int(rng.choice(asns)),
                    method="GET", path="/share/abc" if j % 2 else "/static/js/app.js",
                    user_agent=FIREFOX.format(v=int(rng.integers(131, 134))),
                    ja4=BROWSER_JA4[1], accept_language=lang, bot_score=int(rng.integers(40, 99))),
                "benign", False, "ip", addr)
    # Hard benign: a traveller, sequential over a few networks.
    for k, hour in enumerate((2, 7, 13, 19)):
        addr = ip(100 + k)
        for _ in range(6):
            add(req(t(hour * 60, hour * 60 + 50), client_ip=addr, asn=asns[k], country=countries[k], token="key_traveller",
                    user_agent=CHROME.format(v=131), bot_score=80), "traveller", False, "token", "key_traveller")
    # Hard benign: a big customer on three server addresses of one range, all day.
    for _ in range(int(600 * scale)):
        add(req(t(), client_ip=f"52.10.20.{rng.integers(10, 13)}", asn=16509, country="US", token="key_bigcustomer",
                user_agent=SDK.format(v=5), bot_score=5), "big_customer", False, "token", "key_bigcustomer")
    # Hard benign: a corporate NAT, many people with their own sessions, page loads and real work.
    for i in range(int(30 * scale)):
        token, session = f"key_staff{seed}x{i}", f"corp{seed}-{i}"
        for j in range(int(rng.integers(15, 40))):
            path = "/static/js/app.js" if j % 5 == 0 else "/v1/chat/completions"
            add(req(t(480, 1080), client_ip="198.51.100.7", asn=3320, country="DE", token=token, session_id=session,
                    user_agent=CHROME.format(v=131), path=path, bot_score=int(rng.integers(40, 99))),
                "corporate_nat", False, "ip", "198.51.100.7")
    # Attack: a leaked key used from dozens of networks at once.
    for _ in range(int(200 * scale)):
        add(req(t(600, 720), client_ip=ip(int(rng.integers(100, 220))), asn=int(rng.choice(asns)), country=str(rng.choice(countries)),
                token="key_leaked", user_agent="python-requests/2.32", bot_score=3), "leaked_key", True, "token", "key_leaked",
            "token_ip_fanout")
    # Attack: token farming from one address, each throwaway token used twice.
    for i in range(int(60 * scale)):
        token = f"key_farm{seed}x{i}"
        for _ in range(2):
            add(req(t(), client_ip="203.0.113.50", asn=14061, country="NL", token=token, user_agent="python-requests/2.32",
                    bot_score=2), "token_farm", True, "ip", "203.0.113.50", "ip_token_fanout")
    # Attack: a hosting ASN that is ~90% bots.
    for i in range(int(800 * scale)):
        bot = rng.random() < 0.9
        add(req(t(), client_ip=f"45.77.{rng.integers(0, 255)}.{rng.integers(1, 255)}", asn=20473, country="US",
                token=f"key_vultr{i % 40}", user_agent="curl/8.5" if bot else CHROME.format(v=131), bot_score=2 if bot else 70),
            "bot_asn", True, "asn", "20473", "asn_automation")
    # Attack: low-and-slow scraping through residential proxies with one client stack, anonymous.
    for _ in range(int(400 * scale)):
        addr = ip(int(rng.integers(11, 99)))
        for _ in range(int(rng.integers(1, 4))):
            add(req(t(), client_ip=addr, asn=int(rng.choice(asns)), method="GET", path="/share/xyz",
                    user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36",
                    ja4="t13d1516h2_scraper00000_000000000000", accept_language="en-US", bot_score=int(rng.integers(30, 60))),
                "residential_scraper", True, "fingerprint", "t13d1516h2_scraper00000_000000000000", "fingerprint_quota")
    # Attack: a calm token (4 an hour) that suddenly makes dozens of calls in five minutes.
    calm_ip = ip(77)
    for h in range(6, 20):
        for _ in range(4):
            add(req(t(h * 60, h * 60 + 60), client_ip=calm_ip, asn=asns[0], token="key_calm", user_agent=SDK.format(v=2),
                    bot_score=15), "burst", True, "token", "key_calm", "burst")
    for _ in range(int(40 * scale)):
        add(req(t(905, 909), client_ip=calm_ip, asn=asns[0], token="key_calm", user_agent=SDK.format(v=2), bot_score=15),
            "burst", True, "token", "key_calm", "burst")
    log = write_day(folder / f"day-{seed}.jsonl", records)
    label_file = folder / f"labels-{seed}.csv.gz"
    with gzip.open(label_file, "wt", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["request_id", "scenario", "is_attack", "entity_scope", "entity_value", "expected_detector"])
        writer.writerows(labels)
    return log, label_file
