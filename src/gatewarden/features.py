"""Per-request features shared by all detectors, computed once per analysis window.

`build_window` creates `win`: the window's canonical requests plus derived columns (documented in
docs/detectors.md), a table of the process's scratch database seen through a temp view. Detectors
read `win`; none of them re-derives these columns. Everything is set-based SQL; Python only builds
small lookup tables (endpoint costs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from gatewarden.db import scalar, store_in_scratch, table_exists
from gatewarden.detectors.base import Window
from gatewarden.sessions import session_base_sql

if TYPE_CHECKING:
    from gatewarden.config import Config
    from gatewarden.detectors.config import CostSettings

SESSION_GAP_MINUTES = 30  # the web-analytics convention: 30 minutes of inactivity ends a session

# Static assets: what a browser fetches around a page and an API client never does.
STATIC_PATH = (r"(?i)(\.(js|mjs|css|map|png|jpe?g|gif|svg|webp|avif|ico|woff2?|ttf|eot|otf|mp4|webm)$"
               r"|^/(static|assets|_next/static|favicon)(/|$))")

# User-agent vocabularies, tested in this order (headless and crawler markers hide inside browser strings).
HEADLESS = "phantomjs|puppeteer|playwright|selenium|webdriver"
CRAWLERS = ("googlebot|bingbot|gptbot|claudebot|ccbot|bytespider|ahrefsbot|semrushbot|yandexbot|baiduspider"
            "|duckduckbot|applebot|facebookexternalhit")
HTTP_LIBRARIES = ("curl|wget|python-requests|python-urllib|python-httpx|aiohttp|httpx|go-http-client|okhttp|axios"
                  "|node-fetch|undici|java|apache-httpclient|libwww-perl|ruby|php|guzzlehttp|scrapy|httpie"
                  "|postmanruntime|insomnia|reqwest|rest-client|dart|powershell|winhttp")
SDKS = "openai|anthropic|langchain|llamaindex|litellm|stainless|-sdk|sdk/|sdk-"


def build_window(con: duckdb.DuckDBPyConnection, window: Window, cfg: Config) -> int:
    # Views, not copies: the window's requests are read from `requests` (compressed, column by column) by each
    # step; only the session numbers and the final `win` are materialized. At 10M requests a wide temp copy of
    # the day spills to disk under the memory limit, and writing and re-reading it was most of the analysis.
    con.execute(f"CREATE OR REPLACE TEMP VIEW gw_base AS SELECT r.rowid AS req_key, r.* FROM requests r "
                f"WHERE r.ts >= TIMESTAMP '{window.start.isoformat(' ')}' AND r.ts < TIMESTAMP '{window.end.isoformat(' ')}'")
    _classify_user_agents(con)
    _hosting_asns(con, cfg)
    _endpoint_costs(con, cfg.detectors.cost)
    for sql in _value_maps_sql():
        con.execute(sql)
    con.execute(_stage_sql(cfg.detectors.cost))
    con.execute(_sessions_sql())
    con.execute(_session_evidence_sql())
    store_in_scratch(con, cfg.database, "win", _automation_sql())
    for view in ("gw_stage", "gw_base"):
        con.execute(f"DROP VIEW IF EXISTS {view}")
    for t in ("gw_session", "gw_session_evidence", "gw_ua", "gw_hosting", "gw_endpoint_cost", "gw_client", "gw_client_net",
              "gw_endpoint"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return scalar(con, "SELECT count(*) FROM win")


def has_window(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this connection has `win` from an earlier build_window."""
    return bool(scalar(con, "SELECT count(*) FROM duckdb_views() WHERE view_name = 'win' AND temporary"))


def _classify_user_agents(con: duckdb.DuckDBPyConnection) -> None:
    """gw_ua(user_agent, ua_family, ua_major, ua_class) over the window's DISTINCT user agents.

    Classes: browser, headless (browser automation), automation (HTTP libraries, scripts, scrapers),
    bot (declared crawlers), sdk (API client libraries and apps), empty, other. Order matters: headless
    and bot markers appear inside browser-looking strings, so they are tested first.
    """
    con.execute(rf"""
    CREATE OR REPLACE TEMP TABLE gw_ua AS
    WITH u AS (SELECT DISTINCT user_agent FROM gw_base),
    f AS (
        SELECT user_agent,
            CASE
                WHEN user_agent IS NULL OR trim(user_agent) IN ('', '-') THEN 'empty'
                WHEN regexp_matches(user_agent, '(?i)headlesschrome') THEN 'headless-chrome'
                WHEN regexp_matches(user_agent, '(?i)({HEADLESS})')
                    THEN lower(regexp_extract(user_agent, '(?i)({HEADLESS})', 1))
                WHEN regexp_matches(user_agent, '(?i)({CRAWLERS})')
                    THEN lower(regexp_extract(user_agent, '(?i)({CRAWLERS})', 1))
                WHEN regexp_matches(user_agent, '(?i)^({HTTP_LIBRARIES})\b')
                    THEN lower(regexp_extract(user_agent, '^([A-Za-z][A-Za-z0-9_.-]*)', 1))
                WHEN regexp_matches(user_agent, '(?i)({SDKS})')
                    THEN lower(regexp_extract(user_agent, '^([A-Za-z@][A-Za-z0-9_./@-]*?)(/|\s|$)', 1))
                WHEN regexp_matches(user_agent, '(?i)(bot|crawler|spider|scraper)') THEN 'other-bot'
                WHEN regexp_matches(user_agent, 'Edg/') THEN 'edge'
                WHEN regexp_matches(user_agent, 'OPR/') THEN 'opera'
                WHEN regexp_matches(user_agent, 'Firefox/') THEN 'firefox'
                WHEN regexp_matches(user_agent, '(Chrome|CriOS)/') THEN 'chrome'
                WHEN regexp_matches(user_agent, 'Version/[0-9.]+.*Safari/') THEN 'safari'
                WHEN regexp_matches(user_agent, '^Mozilla/') THEN 'mozilla-other'
                ELSE lower(regexp_extract(user_agent, '^([A-Za-z@][A-Za-z0-9_.@-]*)', 1))
            END AS ua_family
        FROM u
    )
    SELECT user_agent,
        nullif(ua_family, '') AS ua_family,
        TRY_CAST(nullif(CASE ua_family
            WHEN 'edge' THEN regexp_extract(user_agent, 'Edg/([0-9]+)', 1)
            WHEN 'opera' THEN regexp_extract(user_agent, 'OPR/([0-9]+)', 1)
            WHEN 'firefox' THEN regexp_extract(user_agent, 'Firefox/([0-9]+)', 1)
            WHEN 'chrome' THEN regexp_extract(user_agent, '(?:Chrome|CriOS)/([0-9]+)', 1)
            WHEN 'headless-chrome' THEN regexp_extract(user_agent, 'HeadlessChrome/([0-9]+)', 1)
            WHEN 'safari' THEN regexp_extract(user_agent, 'Version/([0-9]+)', 1)
            ELSE regexp_extract(user_agent, '/v?([0-9]+)', 1)
        END, '') AS INTEGER) AS ua_major,
        CASE
            WHEN ua_family = 'empty' THEN 'empty'
            WHEN ua_family IN ('headless-chrome', 'phantomjs', 'puppeteer', 'playwright', 'selenium', 'webdriver') THEN 'headless'
            WHEN ua_family IN ('googlebot', 'bingbot', 'gptbot', 'claudebot', 'ccbot', 'bytespider', 'ahrefsbot', 'semrushbot',
                               'yandexbot', 'baiduspider', 'duckduckbot', 'applebot', 'facebookexternalhit', 'other-bot') THEN 'bot'
            WHEN ua_family IN ('edge', 'opera', 'firefox', 'chrome', 'safari', 'mozilla-other') THEN 'browser'
            WHEN regexp_matches(user_agent, '(?i)^({HTTP_LIBRARIES})\b')
                THEN 'automation'
            WHEN regexp_matches(user_agent, '(?i)({SDKS})') THEN 'sdk'
            ELSE 'other'
        END AS ua_class
    FROM f
    """)


def _hosting_asns(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    """gw_hosting(asn, is_hosting): the enrichment table `asn_info` when present, adjusted by config."""
    source = "SELECT asn, bool_or(is_hosting) AS is_hosting FROM asn_info GROUP BY asn" if table_exists(con, "asn_info") else \
        "SELECT CAST(NULL AS INTEGER) AS asn, false AS is_hosting WHERE false"
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE gw_hosting AS
    SELECT asn, (is_hosting OR list_contains(?, asn)) AND NOT list_contains(?, asn) AS is_hosting
    FROM (SELECT coalesce(s.asn, e.asn) AS asn, coalesce(s.is_hosting, false) AS is_hosting
          FROM ({source}) s FULL JOIN (SELECT unnest(?) AS asn) e ON s.asn = e.asn)""",
                [cfg.enrich.hosting_asns_extra, cfg.enrich.hosting_asns_exclude, cfg.enrich.hosting_asns_extra])


def _endpoint_costs(con: duckdb.DuckDBPyConnection, cost: CostSettings) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE gw_endpoint_cost (endpoint VARCHAR PRIMARY KEY, cost DOUBLE)")
    if cost.per_endpoint:
        con.executemany("INSERT INTO gw_endpoint_cost VALUES (?, ?)", list(cost.per_endpoint.items()))


def _value_maps_sql() -> list[str]:
    """Per DISTINCT value, not per request: a day repeats the same clients, networks and endpoints millions
    of times, and hashing, regexes and string formatting per row were most of the stage's cost.

    gw_client(ja4, ja3, user_agent, accept_language, asn -> UA class, hosting flag, fingerprint),
    gw_client_net(client_ip -> net, by the gw_net macro), gw_endpoint(endpoint or path -> is_static, configured cost).
    """
    return [
        """CREATE OR REPLACE TEMP TABLE gw_client AS
        SELECT c.*, u.ua_family, u.ua_major, u.ua_class, coalesce(h.is_hosting, false) AS is_hosting,
            -- What survives IP rotation and a fresh incognito profile: TLS stack, browser build, language, network kind.
            CASE WHEN coalesce(c.ja4, c.ja3, c.user_agent) IS NOT NULL THEN
                'fp:' || substr(sha256(concat_ws('|', coalesce(c.ja4, 'ja3:' || c.ja3, '-'), coalesce(u.ua_family, '-'),
                                                 coalesce(CAST(u.ua_major AS VARCHAR), '-'), coalesce(c.accept_language, '-'),
                                                 CASE WHEN coalesce(h.is_hosting, false) THEN 'hosting' ELSE 'eyeball' END)), 1, 16)
            END AS fingerprint
        FROM (SELECT DISTINCT ja4, ja3, user_agent, accept_language, asn FROM gw_base) c
        LEFT JOIN gw_ua u ON c.user_agent IS NOT DISTINCT FROM u.user_agent
        LEFT JOIN gw_hosting h ON c.asn = h.asn""",
        """CREATE OR REPLACE TEMP TABLE gw_client_net AS
        SELECT client_ip, gw_net(client_ip, min(ip_num)) AS net FROM gw_base WHERE client_ip IS NOT NULL GROUP BY client_ip""",
        f"""CREATE OR REPLACE TEMP TABLE gw_endpoint AS
        SELECT e.resource, e.endpoint, coalesce(regexp_matches(e.resource, '{STATIC_PATH}'), false) AS is_static, ec.cost AS fixed_cost
        FROM (SELECT DISTINCT coalesce(endpoint, path) AS resource, endpoint FROM gw_base) e
        LEFT JOIN gw_endpoint_cost ec ON ec.endpoint = e.endpoint""",
    ]


def _stage_sql(cost: CostSettings) -> str:
    return f"""
    CREATE OR REPLACE TEMP VIEW gw_stage AS
    SELECT b.*, c.ua_family, c.ua_major, c.ua_class, coalesce(c.is_hosting, false) AS is_hosting,
        coalesce(e.is_static, false) AS is_static, n.net,
        CASE WHEN e.fixed_cost IS NOT NULL THEN e.fixed_cost
             WHEN e.is_static THEN {cost.static!r}
             ELSE greatest({cost.per_call!r}, coalesce(b.duration_ms, 0) / 1000.0 * {cost.per_second!r})
        END AS cost,
        c.fingerprint, {session_base_sql('b.session_id', 'b.token', 'c.fingerprint', 'b.client_ip')} AS session_base
    FROM gw_base b
    LEFT JOIN gw_client c ON b.ja4 IS NOT DISTINCT FROM c.ja4 AND b.ja3 IS NOT DISTINCT FROM c.ja3
         AND b.user_agent IS NOT DISTINCT FROM c.user_agent AND b.accept_language IS NOT DISTINCT FROM c.accept_language
         AND b.asn IS NOT DISTINCT FROM c.asn
    LEFT JOIN gw_client_net n ON n.client_ip = b.client_ip
    LEFT JOIN gw_endpoint e ON e.resource IS NOT DISTINCT FROM coalesce(b.endpoint, b.path) AND e.endpoint IS NOT DISTINCT FROM b.endpoint
    """


def _sessions_sql() -> str:
    """gw_session: each request's session number within its session_base (a new one after 30 minutes of
    inactivity) and its gap to the previous request of the same base.

    The window functions sort only these few columns: sorting whole rows of the day by session was the most
    expensive step of the analysis, in time and in memory. Ties in time follow req_key (file and line order).
    Bases are partitioned by their 64-bit hash: long strings sharing prefixes (`ip:203.0.113.`) sort slowly,
    and two bases would have to collide in 64 bits to share a partition.
    """
    return f"""
    CREATE OR REPLACE TEMP TABLE gw_session AS
    WITH g AS (
        SELECT req_key, hash(session_base) AS base, ts, is_static, session_id IS NOT NULL AS has_cookie,
            CASE WHEN lag(ts) OVER w IS NULL OR ts - lag(ts) OVER w > INTERVAL {SESSION_GAP_MINUTES} MINUTE
                 THEN 1 ELSE 0 END AS new_session,
            epoch(ts - lag(ts) OVER w) AS gap_s, row_number() OVER w AS step
        FROM gw_stage
        WINDOW w AS (PARTITION BY hash(session_base) ORDER BY ts, req_key)
    )
    SELECT req_key, base, is_static, has_cookie, gap_s,
        CAST(sum(new_session) OVER (PARTITION BY base ORDER BY step ROWS UNBOUNDED PRECEDING) AS INTEGER)
            AS session_no
    FROM g
    """


def _session_evidence_sql() -> str:
    """gw_session_evidence: per session, the automation evidence its requests share.

    Evidence weights are likelihoods, not tuned cut-offs: metronome timing (inter-arrival CV < 0.1 over
    >= 6 requests) rarely comes from a human; a session that never loads a static asset nor carries a
    session cookie is weak evidence alone, since API clients legitimately do that.
    """
    return """
    CREATE OR REPLACE TEMP TABLE gw_session_evidence AS
    SELECT base, session_no,
        CASE WHEN count(*) >= 6 AND stddev_pop(gap_s) / nullif(avg(gap_s), 0) < 0.1 THEN 0.7 ELSE 0.0 END AS e_timing,
        CASE WHEN NOT bool_or(is_static) AND NOT bool_or(has_cookie) THEN 0.3 ELSE 0.0 END AS e_session
    FROM gw_session GROUP BY base, session_no
    """


def _automation_sql() -> str:
    """`automated` in [0, 1]: the CDN's bot score where logged, else a noisy-or of gatewarden's own evidence:
    an HTTP library or headless UA is near proof of a script, plus the session's evidence above."""
    return """
    WITH ev AS (
        -- Without the columns no detector reads (cost and automated are made of duration_ms and bot_score): at 10M
        -- extras requests `win` outgrows the memory limit, and the unique session cookies alone weighed 400 MB of it.
        -- A session is a 64-bit number (two would have to collide to merge): storing each request's readable session
        -- key took a quarter of the time `win` takes to write.
        SELECT st.* EXCLUDE (session_base, session_id, host, referer, bytes_out, ip_num, duration_ms),
            hash(ks.base, ks.session_no) AS session, ks.session_no,
            CASE st.ua_class WHEN 'automation' THEN 0.9 WHEN 'headless' THEN 0.9 WHEN 'bot' THEN 0.95 WHEN 'empty' THEN 0.8
                             WHEN 'sdk' THEN 0.3 WHEN 'other' THEN 0.3 ELSE 0.0 END AS e_ua,
            se.e_timing, se.e_session
        FROM gw_stage st
        JOIN gw_session ks ON ks.req_key = st.req_key
        JOIN gw_session_evidence se ON se.base = ks.base AND se.session_no = ks.session_no
    )
    SELECT * EXCLUDE (e_ua, e_timing, e_session, bot_score),
        CASE WHEN bot_score IS NOT NULL THEN CASE WHEN bot_score < 30 THEN 1.0 ELSE 0.0 END
             ELSE CAST(round(1 - (1 - e_ua) * (1 - e_timing) * (1 - e_session), 3) AS DOUBLE) END AS automated
    FROM ev
    """
