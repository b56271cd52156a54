"""auth_abuse: login brute force and credential stuffing, token-refresh hammering, expired-token replay.

Login-like endpoints are recognised by name (login, signin, auth, token, wp-login.php, xmlrpc.php,
administrator/index.php, user/login, ...) and learned from the data: an endpoint mostly called with
POST whose POSTs are often refused (401/403) behaves like a login form whatever it is called.
An attempt is a write (POST/PUT/PATCH) to such an endpoint. Status alone cannot tell a failed login:
WordPress and Joomla answer a wrong password with 200, so attempts are counted per IP, per network
(/24 or /64) and per fingerprint and compared with the population of entities attempting logins in
the same window; a refused share and the number of distinct clients behind an entity decide how
strong the evidence is. Stuffing spread over many IPs surfaces at the network and fingerprint level.
"""

from __future__ import annotations

import duckdb
from pydantic import Field

from gatewarden.detectors.base import Detector, Window
from gatewarden.detectors.sqlparts import outlier_findings
from gatewarden.detectors.stats import SAMPLE_COLUMNS
from gatewarden.settings import DetectorSettings

# End-anchored: the login form itself, not everything below /auth/.
LOGIN_NAMES = (r"(^|/)(login|log-in|signin|sign-in|sign_in|logon|auth|authenticate|session|sessions|token|oauth2?/token"
               r"|wp-login\.php|xmlrpc\.php|administrator/index\.php|administrator|user/login|admin/login)"
               r"(\.php|\.aspx?|\.jsp|\.html?)?/?$")
REFRESH_NAMES = r"(^|/)(refresh|refresh[-_]?token|token/refresh|renew|reauth)(\.php|\.json)?/?$"
WRITE_METHODS = "('POST', 'PUT', 'PATCH')"



LOGIN_COLUMNS = ", ".join(f"w.{c}" for c in (*SAMPLE_COLUMNS, "cost", "client_ip", "net", "fingerprint", "ja4", "ja3",
                                                   "user_agent", "accept_language", "endpoint", "status"))


class Settings(DetectorSettings):
    k_mad: float = Field(
        6.0, gt=0, description="An entity is over when its count exceeds median + k x 1.4826 x MAD of the entities doing "
        "the same thing in the window (about 6 robust standard deviations: rare by chance even over thousands).")
    min_attempts_per_day: float = Field(
        10.0, ge=1, description="Login attempts per day below which nothing is reported, whatever the population: "
        "a person who mistypes a password retries a handful of times. Scaled to the window length. It matters "
        "when attackers are most of the login population (a site nobody logs in to but bots).")
    min_attempts_per_minute: float = Field(
        5.0, ge=1, description="Peak login attempts from one IP within a clock minute below which no burst is reported: "
        "typing a password takes seconds, so five forms a minute is a script even when the day's total is small.")
    min_refresh_per_day: float = Field(
        100.0, ge=1, description="Refresh calls per day below which nothing is reported: a client refreshing a "
        "15-minute token all day long makes ~100. Scaled to the window length.")
    min_expired_per_day: float = Field(
        5.0, ge=1, description="Requests with an expired token per day below which nothing is reported: clients "
        "send a few before noticing the 401 and refreshing.")
    learn_min_posts: int = Field(
        20, ge=1, description="An endpoint not named like a login is learned as one only with at least this many POSTs...")
    learn_refused_share: float = Field(
        0.5, gt=0, le=1, description="...of which at least this share were refused (401/403).")
    refused_share: float = Field(
        0.5, gt=0, le=1, description="Share of refused (401/403) attempts that marks guessing rather than a busy "
        "shared address; with it (or a single client behind the entity) a login finding can be high.")
    high_score: float = Field(
        3.0, gt=1, description="Observed / threshold at which corroborated evidence is block-worthy (high).")


class AuthAbuseDetector(Detector):
    name = "auth_abuse"
    summary = "Login brute force and credential stuffing, refresh hammering, expired-token replay"

    def findings_sql(self, con: duckdb.DuckDBPyConnection, window: Window) -> str | None:
        s = self.settings
        days = window.hours / 24
        con.execute(f"""CREATE OR REPLACE TEMP TABLE gw_auth_endpoints AS
            SELECT endpoint,
                   CASE WHEN regexp_matches(lower(endpoint), '{REFRESH_NAMES}') THEN 'refresh'
                        WHEN regexp_matches(lower(endpoint), '{LOGIN_NAMES}') THEN 'login'
                        WHEN posts >= {s.learn_min_posts} AND refused >= {s.learn_refused_share} * posts
                             AND posts >= 0.5 * n THEN 'login' END AS kind,
                   NOT regexp_matches(lower(endpoint), '{LOGIN_NAMES}|{REFRESH_NAMES}') AS learned
            FROM (SELECT endpoint, count(*) AS n,
                         count(*) FILTER (WHERE method IN {WRITE_METHODS}) AS posts,
                         count(*) FILTER (WHERE method IN {WRITE_METHODS} AND status IN (401, 403)) AS refused
                  FROM win WHERE endpoint IS NOT NULL GROUP BY endpoint)""")
        # Login requests are read by four outlier queries: one scan of the day picks them out (a few per cent of it),
        # with the columns those queries read (entities, evidence, the fingerprint's match), not whole rows.
        con.execute(f"""CREATE OR REPLACE TEMP TABLE gw_auth_login AS
            SELECT {LOGIN_COLUMNS}, e.learned, w.method IN {WRITE_METHODS} AS attempt, w.status IN (401, 403) AS refused
            FROM win w JOIN gw_auth_endpoints e ON w.endpoint = e.endpoint WHERE e.kind = 'login'""")
        login_rows = "SELECT * FROM gw_auth_login"
        refused = "count(*) FILTER (WHERE attempt AND refused)"
        attempts = "count(*) FILTER (WHERE attempt)"
        login_extra = {
            "refused_attempts": refused,
            "refused_share": f"round({refused} / greatest({attempts}, 1), 3)",
            "distinct_ips": "count(DISTINCT client_ip)",
            "distinct_user_agents": "count(DISTINCT user_agent)",
            "endpoints": "list(DISTINCT endpoint ORDER BY endpoint)[1:5]",
            "learned_endpoint": "bool_or(learned)",
            "statuses": "histogram(status)",
        }
        corroborated = f"(refused_share >= {s.refused_share} OR distinct_user_agents <= 1)"
        parts = []
        # Many successful logins through one address are a NAT or a carrier's CGNAT, and many through one popular
        # browser build are its users: volume is only evidence of guessing when the attempts fail (or one client,
        # e.g. a WordPress brute force answered 200, is behind them all). A network or a fingerprint is shared by
        # bystanders, so there the failures alone decide.
        for scope, extra_having in (("ip", corroborated), ("cidr", f"distinct_ips >= 2 AND refused_share >= {s.refused_share}"),
                                    ("fingerprint", f"distinct_ips >= 2 AND refused_share >= {s.refused_share}")):
            high = (f"score >= {s.high_score}" if scope == "ip" else "score >= 1.5")
            parts.append(outlier_findings(
                detector=self.name, scope=scope, metric="login_attempts", rows_sql=login_rows, counted="attempt",
                k=s.k_mad, floor=s.min_attempts_per_day * days, window_hours=window.hours, extra=login_extra,
                severity=f"CASE WHEN {high} THEN 'high' ELSE 'medium' END",
                having=extra_having))
        burst_rows = f"""SELECT *, count(*) FILTER (WHERE attempt) OVER (PARTITION BY client_ip, date_trunc('minute', ts))
            AS per_minute FROM ({login_rows}) l"""
        parts.append(outlier_findings(
            detector=self.name, scope="ip", metric="login_attempts_per_minute", rows_sql=burst_rows, counted="attempt",
            observed="max(per_minute)", k=s.k_mad, floor=s.min_attempts_per_minute, window_hours=window.hours,
            extra={**login_extra, "attempts": attempts},
            severity=f"CASE WHEN score >= {s.high_score} THEN 'high' ELSE 'medium' END", having=corroborated))
        refresh_rows = """SELECT w.*, true AS hit FROM win w JOIN gw_auth_endpoints e ON w.endpoint = e.endpoint
            WHERE e.kind = 'refresh'"""
        for scope in ("token", "ip"):
            parts.append(outlier_findings(
                detector=self.name, scope=scope, metric="refresh_requests", rows_sql=refresh_rows, counted="hit",
                k=s.k_mad, floor=s.min_refresh_per_day * days, window_hours=window.hours,
                extra={"refused": "count(*) FILTER (WHERE status IN (401, 403))", "distinct_tokens": "count(DISTINCT token)",
                       "distinct_ips": "count(DISTINCT client_ip)"},
                severity=f"CASE WHEN score >= {s.high_score} THEN 'high' WHEN score >= 1.5 THEN 'medium' ELSE 'low' END"))
        expired_rows = """SELECT *, epoch(ts - token_exp) / 60.0 AS expired_min FROM win
            WHERE token_exp IS NOT NULL AND ts > token_exp"""
        for scope in ("token", "ip"):
            parts.append(outlier_findings(
                detector=self.name, scope=scope, metric="expired_token_requests", rows_sql=expired_rows, counted="true",
                k=s.k_mad, floor=s.min_expired_per_day * days, window_hours=window.hours,
                extra={"accepted": "count(*) FILTER (WHERE status < 400)",
                       "max_minutes_after_expiry": "round(max(expired_min), 1)",
                       "distinct_tokens": "count(DISTINCT token)", "distinct_ips": "count(DISTINCT client_ip)"},
                severity=f"CASE WHEN score >= {s.high_score} THEN 'high' ELSE 'medium' END"))
        return " UNION ALL ".join(parts)
