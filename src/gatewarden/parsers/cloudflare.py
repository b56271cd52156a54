"""`cloudflare`: Cloudflare Logpush `http_requests` JSON lines.

EdgeStartTimestamp may be RFC3339, unix seconds or unix nanoseconds (the Logpush
`timestamp_format` option); gw_ts reads all three. Custom request headers configured in the
Logpush job arrive in `RequestHeaders`; the caller's key and session cookie are taken from there.
"""

from __future__ import annotations

from gatewarden.parsers.base import LINES, LineParser, parsed_select, sql_str
from gatewarden.parsers.common import first_address, session_from_cookie_header
from gatewarden.parsers.jsonl import json_path

PATHS = [
    "EdgeStartTimestamp", "EdgeEndTimestamp", "ClientIP", "ClientASN", "ClientCountry", "ClientRequestMethod",
    "ClientRequestHost", "ClientRequestURI", "ClientRequestPath", "EdgeResponseStatus", "EdgeResponseBytes",
    "ClientRequestUserAgent", "ClientRequestReferer", "BotScore", "JA3Hash", "JA4", "RayID",
    "RequestHeaders.authorization", "RequestHeaders.Authorization", "RequestHeaders.x-api-key",
    "RequestHeaders.X-Api-Key", "RequestHeaders.cookie", "RequestHeaders.Cookie", "RequestHeaders.accept-language",
    "RequestHeaders.Accept-Language", "EdgeTimeToFirstByteMs", "BotManagement.score", "RequestHeaders.x-forwarded-for",
]


class Cloudflare(LineParser):
    name = "cloudflare"
    summary = "Cloudflare Logpush http_requests (JSON lines)"

    def select_sql(self) -> str:
        def j(name: str) -> str:
            return f"nullif(j[{PATHS.index(name) + 1}], '')"

        start, end = "gw_ts(" + j("EdgeStartTimestamp") + ")", "gw_ts(" + j("EdgeEndTimestamp") + ")"
        fields = {
            "ts": start,
            "client_ip": f"coalesce({j('ClientIP')}, {first_address(j('RequestHeaders.x-forwarded-for'))})",
            "asn": j("ClientASN"),
            "country": j("ClientCountry"),
            "method": j("ClientRequestMethod"),
            "host": j("ClientRequestHost"),
            "path": f"coalesce({j('ClientRequestURI')}, {j('ClientRequestPath')})",
            "status": j("EdgeResponseStatus"),
            "bytes_out": j("EdgeResponseBytes"),
            # Second-resolution timestamps make end - start useless for fast requests; TTFB is then better.
            "duration_ms": f"coalesce(CASE WHEN {end} > {start} AND {j('EdgeStartTimestamp')} NOT SIMILAR TO '[0-9]{{1,10}}' "
                           f"THEN epoch_ms({end}) - epoch_ms({start}) END, TRY_CAST({j('EdgeTimeToFirstByteMs')} AS DOUBLE))",
            "user_agent": j("ClientRequestUserAgent"),
            "referer": j("ClientRequestReferer"),
            "bot_score": f"coalesce({j('BotScore')}, {j('BotManagement.score')})",
            "ja3": j("JA3Hash"),
            "ja4": j("JA4"),
            "request_id": j("RayID"),
            "token": f"coalesce({j('RequestHeaders.x-api-key')}, {j('RequestHeaders.X-Api-Key')}, "
                     f"{j('RequestHeaders.authorization')}, {j('RequestHeaders.Authorization')})",
            "session_id": session_from_cookie_header(f"coalesce({j('RequestHeaders.cookie')}, {j('RequestHeaders.Cookie')}, '')"),
            "accept_language": f"coalesce({j('RequestHeaders.accept-language')}, {j('RequestHeaders.Accept-Language')})",
        }
        paths = ", ".join(sql_str(json_path(p)) for p in PATHS)
        ok = "json_valid(line) AND left(ltrim(line), 1) = '{'"
        inner = f"SELECT source_line, line, {ok} AS ok, CASE WHEN {ok} THEN json_extract_string(line, [{paths}]) END AS j FROM {LINES}"
        reason = ("CASE WHEN NOT ok THEN 'not a JSON object' "
                  f"WHEN {j('EdgeStartTimestamp')} IS NULL AND {j('ClientIP')} IS NULL THEN 'not a Cloudflare http_requests record' END")
        return parsed_select(fields, f"({inner})", reject_reason=reason)
