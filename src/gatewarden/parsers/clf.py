"""`nginx`: the Common Log Format family as nginx and Apache write it, or any nginx `log_format`.

Without --log-format one regex reads all the usual shapes: combined, common (no referer/UA),
vhost_combined (`host ip - - [...]`), combined plus any trailing extra fields, lines wrapped in
one more pair of quotes, syslog-prefixed lines, CRLF, and error-log lines mixed into the same
stream (nginx and Apache, status NULL). A request field that is not `METHOD target PROTO`
(TLS handshakes, shellcode) is still a logged request: method NULL, the raw text as path.
With --log-format the string is compiled once into a regex (see logformat.py).
"""

from __future__ import annotations

from gatewarden.parsers.base import LINES, LineParser, dash_null, parsed_select, sql_str
from gatewarden.parsers.common import QUOTED, absolute_uri_host, regex_struct, strip_port, unescape
from gatewarden.parsers.errorlog import (
    APACHE_ERROR,
    APACHE_ERROR_NAMES,
    NGINX_ERROR,
    NGINX_ERROR_NAMES,
    apache_error_fields,
    nginx_error_fields,
)
from gatewarden.parsers.logformat import compile_log_format

SYSLOG_PREFIX = r"(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d \S+ [^ :]+: |\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:?\d\d) \S+ [^ :]+: )?"

# Up to four tokens before `[time]`: `ip ident user`, `vhost ip ident user`, or the two-token `ip user`
# some proxies write. Which is which is decided by how many there are (see _who).
CLF = (
    "^" + SYSLOG_PREFIX + '"?'
    r"(?P<a>\S+) +(?P<b>\S+) +(?:(?P<c>\S+) +)?(?:(?P<d>\S+) +)?"
    r"\[(?P<time>[^\]]+)\] +"
    r'"(?:(?P<method>[A-Z][A-Z0-9_-]{0,19}) +(?P<target>.+?)(?: +(?P<proto>[A-Z]+/[0-9.]+))?|(?P<other>.*?))"'
    r" +(?P<status>\d{3}|-) +(?P<bytes>\d+|-)"
    r'(?: +"(?P<referer>' + QUOTED + r')" +"(?P<ua>' + QUOTED + r')")?'
    r'(?P<extra>(?: +(?:"' + QUOTED + r'"|[^ "]\S*))*) *"? *$'
)
CLF_NAMES = ["a", "b", "c", "d", "time", "method", "target", "proto", "other", "status", "bytes", "referer", "ua", "extra"]

# The plain combined line, which is nearly every line of a real day. Its fields hold no `"`, `[` or
# backslash, so a DFA match (no captures, the cheapest regex RE2 runs) proves the line's shape and the
# fields come out of plain string splits. For every line it matches, CLF would capture the same groups;
# CLF runs only on the lines it leaves (see plain_combined_struct).
PLAIN_COMBINED = (
    r'[^"\s\[]+ [^"\s\[]+ [^"\s\[]+ \[[^\]"]+\] "[A-Z][A-Z0-9_-]{0,19} [^ "]+ [A-Z]+/[0-9.]+" (?:\d{3}|-) (?:\d+|-) '
    r'"[^"\\]*" "[^"\\]*"'
)


def plain_combined_struct(parts: str) -> str:
    """The CLF struct (CLF_NAMES, same order) of a PLAIN_COMBINED line from `parts` = string_split(line, '"'):
    `ip ident user [time] ` | `METHOD target PROTO` | ` status bytes ` | referer | ` ` | ua | ``."""
    head = f"{parts}[1]"
    bracket = f"strpos({head}, '[')"
    fields = {
        "a": f"split_part({head}, ' ', 1)", "b": f"split_part({head}, ' ', 2)", "c": f"split_part({head}, ' ', 3)",
        "d": "''", "time": f"substr({head}, {bracket} + 1, length({head}) - {bracket} - 2)",
        "method": f"split_part({parts}[2], ' ', 1)", "target": f"split_part({parts}[2], ' ', 2)",
        "proto": f"split_part({parts}[2], ' ', 3)", "other": "''",
        "status": f"split_part({parts}[3], ' ', 2)", "bytes": f"split_part({parts}[3], ' ', 3)",
        "referer": f"{parts}[4]", "ua": f"{parts}[6]", "extra": "''",
    }
    assert list(fields) == CLF_NAMES
    return "struct_pack(" + ", ".join(f"{name} := {expr}" for name, expr in fields.items()) + ")"


def clf_fields(r: str) -> dict[str, str]:
    vhost = f"CASE WHEN {r}.d <> '' THEN {r}.a END"
    ip = f"CASE WHEN {r}.d <> '' THEN {r}.b ELSE {r}.a END"
    path = f"coalesce(nullif({r}.target, ''), nullif({r}.other, ''))"
    return {
        "ts": f"coalesce(gw_clf_ts({r}.time), gw_ts({r}.time))",
        "client_ip": dash_null(ip),
        "method": f"nullif({r}.method, '')",
        "host": f"coalesce({dash_null(strip_port(vhost))}, {absolute_uri_host(r + '.target')})",
        "path": path,
        "status": dash_null(f"{r}.status"),
        "bytes_out": dash_null(f"{r}.bytes"),
        "referer": dash_null(unescape(f"{r}.referer")),
        "user_agent": dash_null(unescape(f"{r}.ua")),
    }


def merge(kind: str, branches: dict[str, dict[str, str]]) -> dict[str, str]:
    """One field map from several line shapes: CASE on which shape matched."""
    names = {n for fields in branches.values() for n in fields}
    merged = {}
    for name in names:
        whens = " ".join(f"WHEN {kind} = '{k}' THEN {fields[name]}" for k, fields in branches.items() if name in fields)
        merged[name] = f"CASE {whens} END"
    return merged


class Nginx(LineParser):
    name = "nginx"
    summary = "nginx/Apache access logs (combined, common, vhost, extra fields, syslog), or any --log-format"

    def select_sql(self) -> str:
        if self.options.log_format:
            return compile_log_format(self.options.log_format).select_sql()
        # Error-log regexes run only on the lines the access regex did not take.
        inner = (
            f"SELECT source_line, line, r, "
            f"CASE WHEN r.time = '' THEN {regex_struct('line', NGINX_ERROR, NGINX_ERROR_NAMES)} END AS e, "
            f"CASE WHEN r.time = '' AND line LIKE '[%' THEN {regex_struct('line', APACHE_ERROR, APACHE_ERROR_NAMES)} END AS x "
            f"FROM (SELECT source_line, line, CASE WHEN regexp_full_match(line, {sql_str(PLAIN_COMBINED)}) "
            f"THEN {plain_combined_struct('parts')} ELSE {regex_struct('line', CLF, CLF_NAMES)} END AS r "
            f"FROM (SELECT source_line, line, string_split(line, '\"') AS parts FROM {LINES}))"
        )
        kind = "(CASE WHEN r.time <> '' THEN 'access' WHEN e.t <> '' THEN 'nginx_error' WHEN x.t <> '' THEN 'apache_error' END)"
        fields = merge(kind, {"access": clf_fields("r"), "nginx_error": nginx_error_fields("e"),
                              "apache_error": apache_error_fields("x")})
        return parsed_select(fields, f"({inner})",
                             reject_reason=f"CASE WHEN {kind} IS NULL THEN 'not a Common Log Format line' END")
