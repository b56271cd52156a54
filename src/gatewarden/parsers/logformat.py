"""Compile an nginx `log_format` (or an Apache `LogFormat`) string into one regex and a field map.

Like GoAccess's --log-format: literal text must match as written (runs of spaces match one or
more), each `$variable` becomes one capture group, and the variable's name says which canonical
field it feeds. A quoted variable (`"$http_user_agent"`) matches escaped quotes inside; an unquoted
one runs to the next literal character; the last one takes the rest of the line. Unknown
variables are matched and ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gatewarden.errors import UsageError
from gatewarden.parsers.base import LINES, dash_null, parsed_select, sql_str
from gatewarden.parsers.common import (
    QUOTED,
    SESSION_COOKIES,
    absolute_uri_host,
    first_address,
    graphql_from_body,
    regex_struct,
    request_line_struct,
    seconds_to_ms,
    session_from_cookie_header,
    strip_port,
    unescape,
)
from gatewarden.parsers.format_split import VARIABLE, SplitPlan, split_plan

# Patterns for unquoted variables whose shape is known; others run to the next literal character.
SHAPES = {
    "time_local": r"\d{1,2}/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}",
    "time_iso8601": r"\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:?\d\d)?",
    "msec": r"[0-9]+(?:\.[0-9]+)?",
    "status": r"\d{3}|-",
    "body_bytes_sent": r"\d+|-",
    "bytes_sent": r"\d+|-",
    "request_time": r"[0-9.]+|-",
}

# Canonical field <- variables, most trusted first. A CDN's client header beats X-Forwarded-For,
# which beats the TCP peer (the proxy, when real_ip is not configured).
SOURCES: dict[str, tuple[str, ...]] = {
    "client_ip": ("http_cf_connecting_ip", "http_true_client_ip", "http_x_real_ip", "http_x_forwarded_for",
                  "remote_addr", "realip_remote_addr"),
    "host": ("host", "http_host", "server_name"),
    "status": ("status",),
    "bytes_out": ("body_bytes_sent", "bytes_sent"),
    "referer": ("http_referer",),
    "user_agent": ("http_user_agent",),
    "token": ("http_x_api_key", "http_authorization", "http_x_auth_token", "http_api_key", "arg_api_key", "arg_apikey",
              "arg_key"),
    "ja3": ("ssl_ja3", "ssl_ja3_hash", "http_x_ja3", "http_ja3"),
    "ja4": ("ssl_ja4", "http_x_ja4", "http_ja4"),
    "request_id": ("request_id", "http_x_request_id", "http_cf_ray", "http_x_amzn_trace_id"),
    "accept_language": ("http_accept_language",),
    "country": ("geoip2_data_country_code", "geoip_country_code", "http_cf_ipcountry"),
    "asn": ("geoip2_data_asn", "geoip2_asn", "http_x_asn"),
    "bot_score": ("http_cf_bot_score", "http_x_bot_score"),
}
ADDRESS_LISTS = {"http_x_forwarded_for"}
UNESCAPED = {"user_agent", "referer", "accept_language"}


@dataclass(frozen=True)
class CompiledFormat:
    pattern: str
    variables: tuple[str, ...]  # one per capture group, in order (group 1 is the whole line)
    plain: SplitPlan | None = None  # the capture-free shortcut for plain lines, when the format allows one

    def has(self, name: str) -> bool:
        return name in self.variables

    def ref(self, name: str) -> str:
        return f"r.v{self.variables.index(name)}"

    def fields(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        for canonical, names in SOURCES.items():
            exprs = []
            for n in (n for n in names if self.has(n)):
                value = first_address(self.ref(n)) if n in ADDRESS_LISTS else dash_null(self.ref(n))
                exprs.append(unescape(value) if canonical in UNESCAPED else value)
            if exprs:
                fields[canonical] = exprs[0] if len(exprs) == 1 else f"coalesce({', '.join(exprs)})"
        fields.update(self._time())
        fields.update(self._request(fields.get("host")))
        duration = self._duration()
        if duration:
            fields["duration_ms"] = duration
        session = self._session()
        if session:
            fields["session_id"] = session
        if self.has("request_body"):
            fields["graphql_query"] = graphql_from_body(self.ref("request_body"), f"coalesce({fields['path']}, '')")
        return fields

    def _time(self) -> dict[str, str]:
        parts = []
        if self.has("time_local"):
            parts.append(f"gw_clf_ts({self.ref('time_local')})")
        parts += [f"gw_ts({self.ref(n)})" for n in ("time_iso8601", "msec") if self.has(n)]
        return {"ts": f"coalesce({', '.join(parts)})"} if parts else {}

    def _request(self, host: str | None) -> dict[str, str]:
        if self.has("request"):
            req = request_line_struct(self.ref("request"))
            method, path = f"nullif({req}.m, '')", f"coalesce(nullif({req}.p, ''), {dash_null(self.ref('request'))})"
        else:
            method = dash_null(self.ref("request_method")) if self.has("request_method") else "NULL"
            if self.has("request_uri"):
                path = dash_null(self.ref("request_uri"))
            elif self.has("uri"):
                query = next((n for n in ("args", "query_string", "apache_query") if self.has(n)), None)
                q = dash_null(self.ref(query)) if query else "NULL"
                if query == "apache_query":
                    path = f"{dash_null(self.ref('uri'))} || coalesce({q}, '')"
                else:
                    path = f"{dash_null(self.ref('uri'))} || coalesce('?' || {q}, '')"
            else:
                path = "NULL"
        out = {"method": method, "path": path}
        uri_host = absolute_uri_host(path)
        out["host"] = f"coalesce({strip_port(host)}, {uri_host})" if host else uri_host
        return out

    def _duration(self) -> str | None:
        if self.has("request_time"):
            return seconds_to_ms(self.ref("request_time"))
        if self.has("apache_request_time_us"):
            return f"TRY_CAST({self.ref('apache_request_time_us')} AS DOUBLE) / 1000"
        if self.has("apache_request_time_ms"):
            return f"TRY_CAST({self.ref('apache_request_time_ms')} AS DOUBLE)"
        if self.has("upstream_response_time"):
            return seconds_to_ms(self.ref("upstream_response_time"))
        return None

    def _session(self) -> str | None:
        cookies = [f"cookie_{c.replace('.', '_')}" for c in SESSION_COOKIES]
        exprs = [dash_null(self.ref(n)) for n in self.variables if n.lower() in cookies]
        exprs += [dash_null(self.ref(n)) for n in ("http_x_session_id",) if self.has(n)]
        if self.has("http_cookie"):
            exprs.append(session_from_cookie_header(self.ref("http_cookie")))
        return (exprs[0] if len(exprs) == 1 else f"coalesce({', '.join(exprs)})") if exprs else None

    def select_sql(self) -> str:
        names = [f"v{i}" for i in range(len(self.variables))]
        captured = regex_struct("line", self.pattern, names)
        if self.plain is None:
            inner = f"SELECT source_line, line, {captured} AS r FROM {LINES}"
        else:
            split = ", ".join(f"{n} := {v}" for n, v in zip(names, ("line", *self.plain.values), strict=True))
            inner = (f"SELECT source_line, line, CASE WHEN regexp_full_match(line, {sql_str(self.plain.pattern)}) "
                     f"THEN struct_pack({split}) ELSE {captured} END AS r "
                     f"FROM (SELECT source_line, line, string_split(line, '\"') AS parts FROM {LINES})")
        fields = self.fields()
        if "ts" not in fields:
            raise UsageError("The log format has no time variable.", "Add $time_local, $time_iso8601 or $msec to it.")
        return parsed_select(fields, f"({inner})",
                             reject_reason="CASE WHEN r.v0 = '' THEN 'line does not match the --log-format' END")


def config_text(text: str) -> str:
    """Accept a bare format, or a `log_format name [escape=..] '...' '...';` line copied from nginx.conf."""
    text = text.strip()
    m = re.match(r"^log_format\s+\S+\s+(?:escape=\S+\s+)?(.*?);?\s*$", text, re.S)
    if m:
        text = m.group(1).strip()
    if text[:1] in "'\"" and len(text) > 1:
        segments = re.findall(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", text)
        joined = "".join(a or b for a, b in segments)
        if joined:
            text = joined
    return text


def nginx_text(text: str) -> str:
    """The format as nginx variables, from an nginx or Apache format string or config line."""
    text = config_text(text)
    if "%" in text and "$" not in text:
        from gatewarden.parsers.apache_format import apache_to_nginx

        text = apache_to_nginx(text)
    return text


def compile_log_format(text: str) -> CompiledFormat:
    text = nginx_text(text)
    pieces = VARIABLE.split(text)  # literal, name-in-braces, name, literal, ...
    literals = pieces[0::3]
    names = [a or b for a, b in zip(pieces[1::3], pieces[2::3], strict=True)]
    if not names:
        raise UsageError(f"--log-format {text!r} has no $variables.", "Pass the log_format string from nginx.conf.")
    regex = [_literal(literals[0])]
    for i, name in enumerate(names):
        before, after = literals[i], literals[i + 1]
        last = i == len(names) - 1 and after.strip() == ""
        regex.append("(" + _variable(name, before, after, last) + ")")
        regex.append(_literal(after))
    return CompiledFormat("^(" + "".join(regex) + r")\s*$", ("",) + tuple(names), split_plan(text, SHAPES))


def _literal(text: str) -> str:
    return "".join(" +" if part.isspace() else re.escape(part) for part in re.split(r"(\s+)", text) if part)


def _variable(name: str, before: str, after: str, last: bool) -> str:
    if before.endswith('"') and after.startswith('"'):
        return QUOTED
    if name in SHAPES:
        return f"(?:{SHAPES[name]})"
    if last:
        return ".*"
    stop = after[0]
    return r"\S*" if stop.isspace() else "[^" + re.escape(stop) + "]*"
