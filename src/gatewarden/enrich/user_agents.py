"""User-agent classes over DISTINCT user agents, in DuckDB: family, major version, class, bot name.

Classes, first match wins: `sdk` (LLM vendor SDKs, whose UA names the vendor as ai.robots.txt does),
`ai_crawler` (ai.robots.txt), `bad_bot` (CrowdSec bad user agents), `http_library` (curl, requests, okhttp, ...), `crawler` (monperrus
crawler-user-agents), `browser` (a Mozilla-style UA naming a browser family), else `unknown`
(family `empty` when no UA was sent). Lists are bundled in data/user_agents (MIT).

Each bot list becomes one combined RE2 alternation per chunk, so a UA is tested against ~1,500 patterns
in a few regex passes; only the UAs that hit are joined against the single patterns to name the bot.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

import duckdb
import pyarrow as pa

from gatewarden.enrich import sql_str

UA_CLASSES = ("sdk", "ai_crawler", "bad_bot", "http_library", "crawler", "browser", "unknown")
CHUNK = 250  # patterns per combined regex: keeps each RE2 program well inside its memory budget

# (family, class, regex whose group 1 is the version). Order matters: Edge and Opera also say Chrome,
# Chrome also says Safari, SDKs ride on HTTP libraries.
FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("openai-python", "sdk", r"OpenAI/Python ([0-9][0-9.]*)"),
    ("openai-node", "sdk", r"OpenAI/JS ([0-9][0-9.]*)"),
    ("openai-sdk", "sdk", r"OpenAI/[A-Za-z#]+ ([0-9][0-9.]*)"),
    ("anthropic-python", "sdk", r"Anthropic/Python ([0-9][0-9.]*)"),
    ("anthropic-node", "sdk", r"Anthropic/JS ([0-9][0-9.]*)"),
    ("anthropic-sdk", "sdk", r"Anthropic/[A-Za-z#]+ ([0-9][0-9.]*)"),
    ("langchain", "sdk", r"(?i)langchain[-_/ ]?(?:[a-z]+/)?v?([0-9][0-9.]*)?"),
    ("litellm", "sdk", r"(?i)litellm/?([0-9][0-9.]*)?"),
    ("google-genai", "sdk", r"(?i)google-genai-sdk/([0-9][0-9.]*)"),
    ("aws-sdk", "sdk", r"aws-sdk-[a-z]+/([0-9][0-9.]*)"),
    ("curl", "http_library", r"^curl/([0-9][0-9.]*)"),
    ("wget", "http_library", r"^Wget/([0-9][0-9.]*)"),
    ("python-requests", "http_library", r"python-requests/([0-9][0-9.]*)"),
    ("python-httpx", "http_library", r"python-httpx/([0-9][0-9.]*)"),
    ("aiohttp", "http_library", r"aiohttp/([0-9][0-9.]*)"),
    ("python-urllib", "http_library", r"Python-urllib/([0-9][0-9.]*)"),
    ("pycurl", "http_library", r"PycURL/([0-9][0-9.]*)"),
    ("okhttp", "http_library", r"okhttp/([0-9][0-9.]*)"),
    ("Go-http-client", "http_library", r"Go-http-client/([0-9][0-9.]*)"),
    ("node-fetch", "http_library", r"node-fetch/?([0-9][0-9.]*)?"),
    ("axios", "http_library", r"axios/([0-9][0-9.]*)"),
    ("undici", "http_library", r"undici/?([0-9][0-9.]*)?"),
    ("java", "http_library", r"^Java(?:-http-client)?/([0-9][0-9._]*)"),
    ("apache-httpclient", "http_library", r"Apache-HttpClient/([0-9][0-9.]*)"),
    ("libwww-perl", "http_library", r"libwww-perl/([0-9][0-9.]*)"),
    ("guzzle", "http_library", r"GuzzleHttp/([0-9][0-9.]*)"),
    ("httpie", "http_library", r"HTTPie/([0-9][0-9.]*)"),
    ("postman", "http_library", r"PostmanRuntime/([0-9][0-9.]*)"),
    ("insomnia", "http_library", r"insomnia/([0-9][0-9.]*)"),
    ("reqwest", "http_library", r"reqwest/([0-9][0-9.]*)"),
    ("dart", "http_library", r"^Dart/([0-9][0-9.]*)"),
    ("ruby", "http_library", r"^Ruby(?:/([0-9][0-9.]*))?$"),
    ("Edge", "browser", r"^Mozilla/.*Edg(?:e|A|iOS)?/([0-9]+)"),
    ("Opera", "browser", r"^Mozilla/.*(?:OPR|OPT)/([0-9]+)"),
    ("Samsung Internet", "browser", r"^Mozilla/.*SamsungBrowser/([0-9]+)"),
    ("Yandex Browser", "browser", r"^Mozilla/.*YaBrowser/([0-9]+)"),
    ("Firefox", "browser", r"^Mozilla/.*(?:Firefox|FxiOS)/([0-9]+)"),
    ("Chrome", "browser", r"^Mozilla/.*(?:Chrome|CriOS|Chromium)/([0-9]+)"),
    ("Safari", "browser", r"^Mozilla/.*Version/([0-9]+)[0-9.]* (?:Mobile(?:/[0-9A-Za-z]+)? )?Safari/"),
    ("Internet Explorer", "browser", r"^Mozilla/.*(?:MSIE |Trident/.*rv:)([0-9]+)"),
    ("Opera", "browser", r"^Opera/[0-9.]+.*Version/([0-9]+)"),
    ("Opera", "browser", r"^Opera/([0-9]+)"),
)


def _data(name: str) -> str:
    return (resources.files("gatewarden") / "data" / "user_agents" / name).read_text(encoding="utf-8")


def _bot_name(pattern: str) -> str:
    return re.sub(r"\\b|\\|[\^$]", "", pattern).rstrip("/ ").strip() or pattern


@lru_cache(maxsize=1)
def bot_patterns() -> tuple[tuple[str, str, str, int], ...]:
    """(class, regex, bot name, order) for every bundled bot pattern; RE2-incompatible patterns are skipped."""
    out: list[tuple[str, str, str, int]] = []
    for key in json.loads(_data("ai-robots-txt-robots.json")):
        # Tokens such as `Code` or `Spider` must stand alone, or they would match words inside other UAs.
        token = re.escape(key).replace("\\ ", " ")
        out.append(("ai_crawler", f"(?:^|[^A-Za-z0-9_-]){token}(?:$|[^A-Za-z0-9_-])", key, len(out)))
    for line in _data("crowdsec-bad_user_agents.regex.txt").splitlines():
        if line.strip() and not line.startswith("#"):
            out.append(("bad_bot", "(?i)" + line.strip(), _bot_name(line.strip()), len(out)))
    for entry in json.loads(_data("monperrus-crawler-user-agents.json")):
        pattern = entry["pattern"]
        # RE2 has no look-around or back-references.
        if not re.search(r"\(\?[=!<]|\\[1-9]", pattern):
            out.append(("crawler", pattern, _bot_name(pattern), len(out)))
    return tuple(out)


def _patterns_table(con: duckdb.DuckDBPyConnection) -> None:
    rows = bot_patterns()
    con.register("gw_ua_patterns_in", pa.table({
        "ua_class": pa.array([r[0] for r in rows], pa.string()),
        "pattern": pa.array([r[1] for r in rows], pa.string()),
        "bot_name": pa.array([r[2] for r in rows], pa.string()),
        "ord": pa.array([r[3] for r in rows], pa.int64()),
    }))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE gw_ua_patterns AS SELECT * FROM gw_ua_patterns_in")
    finally:
        con.unregister("gw_ua_patterns_in")


def _combined(cls: str) -> list[str]:
    """One alternation per chunk of a class's patterns; a case-insensitive pattern keeps its own (?i) flag."""
    patterns = [p for c, p, _, _ in bot_patterns() if c == cls]
    chunks = [patterns[i:i + CHUNK] for i in range(0, len(patterns), CHUNK)]
    return ["|".join(f"(?:{p})" for p in chunk) for chunk in chunks]


def _family_sql(ua: str) -> tuple[str, str, str]:
    """SQL expressions for (family, class, version) of `ua` from FAMILIES."""
    family = "CASE " + " ".join(f"WHEN regexp_matches({ua}, {sql_str(rx)}) THEN {sql_str(fam)}" for fam, _, rx in FAMILIES) + " END"
    cls = "CASE " + " ".join(f"WHEN regexp_matches({ua}, {sql_str(rx)}) THEN {sql_str(c)}" for _, c, rx in FAMILIES) + " END"
    version = ("CASE " + " ".join(f"WHEN regexp_matches({ua}, {sql_str(rx)}) THEN regexp_extract({ua}, {sql_str(rx)}, 1)"
                                  for _, _, rx in FAMILIES) + " END")
    return family, cls, version


def classify_user_agents(con: duckdb.DuckDBPyConnection, source_table: str, into: str = "ua_info",
                         column: str = "user_agent") -> int:
    """Temp table `into`(user_agent, ua_family, ua_major, ua_class, bot_name) with one row per distinct UA of
    `source_table` (NULL and empty UAs included, as one row each); returns the number of distinct UAs."""
    _patterns_table(con)
    con.execute(f"CREATE OR REPLACE TEMP TABLE gw_ua AS SELECT DISTINCT {column} AS user_agent FROM {source_table}")
    hits = []
    for cls in ("ai_crawler", "bad_bot", "crawler"):
        patterns = [(order, rx) for c, rx, _, order in bot_patterns() if c == cls]
        any_hit = " OR ".join(f"regexp_matches(user_agent, {sql_str(rx)})" for rx in _combined(cls)) or "false"
        # Constant patterns are compiled once; the CASE names the first one that matches, only for UAs that hit.
        first = "CASE " + " ".join(f"WHEN regexp_matches(user_agent, {sql_str(rx)}) THEN {order}" for order, rx in patterns) + " END"
        hits.append(f"""SELECT user_agent, {first} AS ord
            FROM gw_ua WHERE user_agent IS NOT NULL AND ({any_hit})""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE gw_ua_bots AS
        SELECT h.user_agent, arg_min(p.ua_class, p.ord) AS ua_class, arg_min(p.bot_name, p.ord) AS bot_name
        FROM ({' UNION ALL '.join(hits)}) h JOIN gw_ua_patterns p ON p.ord = h.ord GROUP BY h.user_agent""")
    family, fam_class, version = _family_sql("u.user_agent")
    empty = "(u.user_agent IS NULL OR trim(u.user_agent) IN ('', '-'))"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {into} AS
        WITH f AS (
            SELECT u.user_agent, {family} AS fam, {fam_class} AS fam_class, {version} AS ver, b.ua_class AS bot_class, b.bot_name
            FROM gw_ua u LEFT JOIN gw_ua_bots b ON b.user_agent = u.user_agent)
        SELECT user_agent,
               CASE WHEN {empty.replace('u.', '')} THEN 'empty' ELSE coalesce(fam, bot_name) END AS ua_family,
               TRY_CAST(regexp_extract(ver, '^[0-9]+') AS INTEGER) AS ua_major,
               CASE WHEN {empty.replace('u.', '')} THEN 'unknown'
                    WHEN fam_class = 'sdk' THEN 'sdk'
                    WHEN bot_class IN ('ai_crawler', 'bad_bot') THEN bot_class
                    WHEN fam_class = 'http_library' THEN 'http_library'
                    WHEN bot_class = 'crawler' THEN 'crawler'
                    WHEN fam_class = 'browser' THEN 'browser'
                    ELSE 'unknown' END AS ua_class,
               CASE WHEN fam_class = 'sdk' THEN NULL
                    WHEN bot_class IN ('ai_crawler', 'bad_bot') OR (bot_class = 'crawler' AND coalesce(fam_class, '') NOT IN
                    ('sdk', 'http_library')) THEN bot_name END AS bot_name
        FROM f""")
    for name in ("gw_ua", "gw_ua_bots", "gw_ua_patterns"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return con.execute(f"SELECT count(*) FROM {into}").fetchall()[0][0]
