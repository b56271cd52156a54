"""nginx and Apache error logs: the lines that name a client become requests with status NULL.

Error logs carry what access logs do not: failed basic-auth users, `limiting requests` (limit_req
rejections), denied paths. nginx and Apache write error-log times in server local time without an
offset; they are read as UTC. Lines with no client (start-up, worker notices) are rejected as
"not a request", so they are counted and never silently dropped.
"""

from __future__ import annotations

from gatewarden.parsers.base import LINES, LineParser, dash_null, parsed_select
from gatewarden.parsers.common import QUOTED, absolute_uri_host, regex_struct, request_line_struct, unescape

NGINX_ERROR = (
    r"^(?P<t>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(?P<level>[a-z]+)\] \d+#\d+: (?:\*\d+ )?(?P<msg>.*?)"
    r", client: (?P<client>[^,]*)(?:, server: (?P<server>[^,]*))?"
    r'(?:, request: "(?P<request>' + QUOTED + r')")?(?:, (?:upstream|subrequest): "' + QUOTED + '")?'
    r'(?:, host: "(?P<host>' + QUOTED + r')")?(?:, referrer: "(?P<referer>' + QUOTED + r')")?.*$'
)
NGINX_ERROR_NAMES = ["t", "level", "msg", "client", "server", "request", "host", "referer"]

APACHE_ERROR = (
    r"^\[[A-Z][a-z]{2} (?P<t>[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d)(?:\.\d+)? (?P<year>\d{4})\] "
    r"\[(?P<module>[^\]]*)\](?: \[pid [^\]]*\])?.*?\[client (?P<client>[^\]]+)\] (?P<msg>.*)$"
)
APACHE_ERROR_NAMES = ["t", "year", "module", "client", "msg"]


def apache_client(expr: str) -> str:
    """Apache writes `[client 1.2.3.4:50229]` and `[client 2001:db8::1:50229]`: drop the port."""
    return f"CASE WHEN {expr} LIKE '%.%:%' OR {expr} LIKE '%:%:%' THEN regexp_replace({expr}, ':[0-9]+$', '') ELSE {expr} END"


def nginx_error_fields(e: str) -> dict[str, str]:
    request = request_line_struct(unescape(e + ".request"))
    return {
        "ts": f"CAST(try_strptime({e}.t, '%Y/%m/%d %H:%M:%S') AS TIMESTAMP)",
        "client_ip": dash_null(f"{e}.client"),
        "method": f"nullif({request}.m, '')",
        "path": f"coalesce(nullif({request}.p, ''), {dash_null(e + '.request')})",
        "host": f"coalesce({dash_null(e + '.host')}, {absolute_uri_host(request + '.p')}, {dash_null(e + '.server')})",
        "referer": dash_null(f"{e}.referer"),
    }


def apache_error_fields(e: str) -> dict[str, str]:
    return {
        "ts": f"CAST(try_strptime({e}.t || ' ' || {e}.year, '%b %d %H:%M:%S %Y') AS TIMESTAMP)",
        "client_ip": apache_client(f"{e}.client"),
    }


class NginxError(LineParser):
    name = "nginx-error"
    summary = "nginx error log (auth failures, limit_req rejections) as requests with status NULL"

    def select_sql(self) -> str:
        inner = f"SELECT source_line, line, {regex_struct('line', NGINX_ERROR, NGINX_ERROR_NAMES)} AS e FROM {LINES}"
        return parsed_select(nginx_error_fields("e"), f"({inner})",
                             reject_reason="CASE WHEN e.t = '' THEN 'not an nginx error line naming a client' END")


class ApacheError(LineParser):
    name = "apache-error"
    summary = "Apache 2.4 error log lines naming a client, as requests with status NULL"

    def select_sql(self) -> str:
        inner = f"SELECT source_line, line, {regex_struct('line', APACHE_ERROR, APACHE_ERROR_NAMES)} AS e FROM {LINES}"
        return parsed_select(apache_error_fields("e"), f"({inner})",
                             reject_reason="CASE WHEN e.t = '' THEN 'not an Apache error line naming a client' END")
