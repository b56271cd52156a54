"""Per-request features shared by all detectors, computed once per analysis window.

`build_window` creates the temp table `win`: the window's canonical requests plus derived
columns (documented in docs/detectors.md). Detectors read `win`; none of them re-derives these
columns. Everything is set-based SQL; Python only builds small lookup tables (endpoint costs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from gatewarden.db import scalar, table_exists
from gatewarden.detectors.base import Window

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
    # A view, not a copy: the window's requests are read twice (distinct user agents, then the stage), which
    # costs less than holding the whole day once more in memory.
    con.execute(f"CREATE OR REPLACE TEMP VIEW gw_base AS SELECT r.rowid AS req_key, r.* FROM requests r "
                f"WHERE r.ts >= TIMESTAMP '{window.start.isoformat(' ')}' AND r.ts < TIMESTAMP '{window.end.isoformat(' ')}'")
    _classify_user_agents(con)
    _hosting_asns(con, cfg)
    _endpoint_costs(con, cfg.detectors.cost)
    con.execute(_stage_sql(cfg.detectors.cost))
    con.execute(_sessions_sql())
    con.execute(_automation_sql())
    con.execute("DROP VIEW IF EXISTS gw_base")
    for t in ("gw_stage", "gw_session", "gw_ua", "gw_hosting", "gw_endpoint_cost"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return scalar(con, "SELECT count(*) FROM win")


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


def _stage_sql(cost: CostSettings) -> str:
    return f"""
    CREATE OR REPLACE TEMP TABLE gw_stage AS
    WITH f AS (
        SELECT b.*, u.ua_family, u.ua_major, u.ua_class,
            coalesce(h.is_hosting, false) AS is_hosting,
            coalesce(regexp_matches(coalesce(b.endpoint, b.path), '{STATIC_PATH}'), false) AS is_static,
            CASE WHEN b.client_ip LIKE '%:%' AND b.ip_num IS NOT NULL THEN
                     format('{{:x}}:{{:x}}:{{:x}}:{{:x}}::/64',
                            CAST((b.ip_num >> 112) & 65535 AS INTEGER), CAST((b.ip_num >> 96) & 65535 AS INTEGER),
                            CAST((b.ip_num >> 80) & 65535 AS INTEGER), CAST((b.ip_num >> 64) & 65535 AS INTEGER))
                 WHEN regexp_full_match(b.client_ip, '[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+') THEN
                     regexp_replace(b.client_ip, '\\.[0-9]+$', '.0/24')
            END AS net,
            CASE
                WHEN ec.cost IS NOT NULL THEN ec.cost
                WHEN coalesce(regexp_matches(coalesce(b.endpoint, b.path), '{STATIC_PATH}'), false) THEN {cost.static!r}
                ELSE greatest({cost.per_call!r}, coalesce(b.duration_ms, 0) / 1000.0 * {cost.per_second!r})
            END AS cost
        FROM gw_base b
        LEFT JOIN gw_ua u ON b.user_agent IS NOT DISTINCT FROM u.user_agent
        LEFT JOIN gw_hosting h ON b.asn = h.asn
        LEFT JOIN gw_endpoint_cost ec ON b.endpoint = ec.endpoint
    ),
    fp AS (
        -- What survives IP rotation and a fresh incognito profile: TLS stack, browser build, language, network kind.
        SELECT *,
            CASE WHEN coalesce(ja4, ja3, user_agent) IS NOT NULL THEN
                'fp:' || substr(sha256(concat_ws('|', coalesce(ja4, 'ja3:' || ja3, '-'), coalesce(ua_family, '-'),
                                                 coalesce(CAST(ua_major AS VARCHAR), '-'), coalesce(accept_language, '-'),
                                                 CASE WHEN is_hosting THEN 'hosting' ELSE 'eyeball' END)), 1, 16)
            END AS fingerprint
        FROM f
    ),
    SELECT *,
        CASE WHEN session_id IS NOT NULL THEN 's:' || session_id
             WHEN token IS NOT NULL THEN 't:' || token
             WHEN fingerprint IS NOT NULL THEN fingerprint || '@' || coalesce(client_ip, '-')
             ELSE 'ip:' || coalesce(client_ip, '-') END AS session_base
    FROM fp
    """


def _sessions_sql() -> str:
    """gw_session: each gw_stage row's session key and gap to the previous request of its session.

    The window functions see only the few columns they need (joined back on rowid): sorting whole rows
    of the day by session was the most expensive step of the analysis, in time and in memory.
    """
    return f"""
    CREATE OR REPLACE TEMP TABLE gw_session AS
    WITH g AS (
        SELECT rowid AS stage_row, session_base, ts, req_key, is_static, session_id IS NOT NULL AS has_cookie,
            CASE WHEN lag(ts) OVER w IS NULL OR ts - lag(ts) OVER w > INTERVAL {SESSION_GAP_MINUTES} MINUTE
                 THEN 1 ELSE 0 END AS new_session,
            epoch(ts - lag(ts) OVER w) AS gap_s
        FROM gw_stage
        WINDOW w AS (PARTITION BY session_base ORDER BY ts, req_key)
    )
    SELECT stage_row, is_static, has_cookie, gap_s,
        session_base || '#' || CAST(sum(new_session) OVER (PARTITION BY session_base ORDER BY ts, req_key
                                                           ROWS UNBOUNDED PRECEDING) AS VARCHAR) AS session_key
    FROM g
    """


def _automation_sql() -> str:
    """`automated` in [0, 1]: the CDN's bot score where logged, else a noisy-or of gatewarden's own evidence.

    Evidence weights are likelihoods, not tuned cut-offs: an HTTP library or headless UA is near
    proof of a script; metronome timing (inter-arrival CV < 0.1 over >= 6 requests) rarely comes
    from a human; a session that never loads a static asset nor carries a session cookie is weak
    evidence alone, since API clients legitimately do that.
    """
    return """
    CREATE OR REPLACE TEMP TABLE win AS
    WITH sess AS (
        SELECT session_key,
            bool_or(is_static) AS has_static,
            bool_or(has_cookie) AS has_cookie,
            count(*) AS n,
            stddev_pop(gap_s) / nullif(avg(gap_s), 0) AS gap_cv
        FROM gw_session GROUP BY session_key
    ),
    ev AS (
        SELECT st.* EXCLUDE (session_base), ks.session_key,
            CASE ua_class WHEN 'automation' THEN 0.9 WHEN 'headless' THEN 0.9 WHEN 'bot' THEN 0.95 WHEN 'empty' THEN 0.8
                          WHEN 'sdk' THEN 0.3 WHEN 'other' THEN 0.3 ELSE 0.0 END AS e_ua,
            CASE WHEN se.n >= 6 AND se.gap_cv < 0.1 THEN 0.7 ELSE 0.0 END AS e_timing,
            CASE WHEN NOT se.has_static AND NOT se.has_cookie THEN 0.3 ELSE 0.0 END AS e_session
        FROM gw_stage st JOIN gw_session ks ON ks.stage_row = st.rowid JOIN sess se ON se.session_key = ks.session_key
    )
    SELECT * EXCLUDE (e_ua, e_timing, e_session),
        CASE WHEN bot_score IS NOT NULL THEN CASE WHEN bot_score < 30 THEN 1.0 ELSE 0.0 END
             ELSE CAST(round(1 - (1 - e_ua) * (1 - e_timing) * (1 - e_session), 3) AS DOUBLE) END AS automated
    FROM ev
    """
