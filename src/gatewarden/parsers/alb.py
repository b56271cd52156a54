"""`alb`: AWS Application Load Balancer access logs.

Space-separated with quoted fields; the request is logged in absolute form
(`GET https://host:443/path HTTP/1.1`), so the path is reduced to origin form and the host is
taken from the TLS SNI domain or the URL. Duration is the sum of the three processing times
(-1 when the target was never reached, then NULL); the X-Amzn-Trace-Id is the request id.
Newer ALB versions append fields; they are matched and ignored.
"""

from __future__ import annotations

from gatewarden.parsers.base import LINES, LineParser, dash_null, parsed_select
from gatewarden.parsers.common import QUOTED, absolute_uri_host, origin_form, regex_struct, request_line_struct, unescape

ALB = (
    r"^(?P<type>https?|h2|grpcs|wss?) (?P<time>\d{4}-\d\d-\d\dT\S+) (?P<elb>\S+) (?P<client>\S+) (?P<target>\S+) "
    r"(?P<t1>-?[0-9.]+) (?P<t2>-?[0-9.]+) (?P<t3>-?[0-9.]+) (?P<status>\d{3}|-) (?P<target_status>\S+) "
    r'(?P<received>\d+|-) (?P<sent>\d+|-) "(?P<request>' + QUOTED + r')" "(?P<ua>' + QUOTED + r')"'
    r'(?: (?P<cipher>\S+) (?P<protocol>\S+) (?P<group>\S+) "(?P<trace>' + QUOTED + r')"'
    r'(?: "(?P<domain>' + QUOTED + r')")?)?.*$'
)
NAMES = ["type", "time", "elb", "client", "target", "t1", "t2", "t3", "status", "target_status", "received", "sent",
         "request", "ua", "cipher", "protocol", "group", "trace", "domain"]


class Alb(LineParser):
    name = "alb"
    summary = "AWS Application Load Balancer access logs"

    def select_sql(self) -> str:
        req = request_line_struct("r.request")
        target = f"coalesce(nullif({req}.p, ''), {dash_null('r.request')})"
        times = "[TRY_CAST(r.t1 AS DOUBLE), TRY_CAST(r.t2 AS DOUBLE), TRY_CAST(r.t3 AS DOUBLE)]"
        fields = {
            "ts": "gw_ts(r.time)",
            "client_ip": dash_null("r.client"),
            "method": f"nullif({req}.m, '')",
            "host": f"coalesce({dash_null('r.domain')}, {absolute_uri_host(target)})",
            "path": origin_form(target),
            "status": dash_null("r.status"),
            "bytes_out": dash_null("r.sent"),
            "duration_ms": f"CASE WHEN list_min({times}) >= 0 THEN list_sum({times}) * 1000 END",
            "user_agent": dash_null(unescape("r.ua")),
            "request_id": dash_null("r.trace"),
        }
        inner = f"SELECT source_line, line, {regex_struct('line', ALB, NAMES)} AS r FROM {LINES}"
        return parsed_select(fields, f"({inner})", reject_reason="CASE WHEN r.time = '' THEN 'not an ALB access log line' END")
