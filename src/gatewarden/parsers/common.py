"""SQL building blocks shared by the text log formats: quoting, escapes, request lines, cookies.

Everything here returns SQL expressions, so each format stays one SELECT evaluated by DuckDB.
"""

from __future__ import annotations

from gatewarden.parsers.base import dash_null, sql_str

# The inside of a double-quoted log field: Apache escapes `"` and `\` with a backslash,
# nginx writes them as \x22 and \x5C, so backslash-anything is one unit either way.
QUOTED = r'(?:[^"\\]|\\.)*'

# Cookie names that carry a session, as nginx exposes them in $cookie_<name> (dashes become underscores).
SESSION_COOKIES = ("session", "session_id", "sessionid", "sid", "sess", "phpsessid", "jsessionid", "connect.sid",
                   "_session", "__session", "auth_session")

# Request lines: `METHOD target [PROTO]`; anything else (TLS handshakes, shellcode) is kept as raw text.
REQUEST_LINE = r"^([A-Z][A-Z0-9_-]{0,19}) +(.+?)(?: +([A-Z]+/[0-9.]+))?$"
# Nearly every request line: one space between three parts. A capture-free DFA proves the shape and the parts
# come out of plain splits, exactly as REQUEST_LINE would capture them (it halves the cost of the field).
PLAIN_REQUEST_LINE = r"[A-Z][A-Z0-9_-]{0,19} [^ ]+ [A-Z]+/[0-9.]+"


def regex_struct(expr: str, pattern: str, names: list[str]) -> str:
    """One regex evaluation returning a struct of named groups ('' where a group did not take part)."""
    return f"regexp_extract({expr}, {sql_str(pattern)}, [{', '.join(sql_str(n) for n in names)}])"


def request_line_struct(expr: str) -> str:
    """Struct (m, p, v) of a request line: method, target and protocol ('' where absent)."""
    plain = ", ".join(f"{name} := split_part({expr}, ' ', {i})" for i, name in enumerate("mpv", start=1))
    return (f"CASE WHEN regexp_full_match({expr}, {sql_str(PLAIN_REQUEST_LINE)}) THEN struct_pack({plain}) "
            f"ELSE regexp_extract({expr}, {sql_str(REQUEST_LINE)}, ['m', 'p', 'v']) END")


def unescape(expr: str) -> str:
    """Undo log escaping: `\\"` and `\\\\` (Apache), and `\\xHH` for printable ASCII (nginx).
    Bytes outside printable ASCII stay as `\\xHH` text, so binary payloads remain visible and valid UTF-8."""
    backslashes = f"regexp_replace({expr}, '\\\\([\"\\\\])', '\\1', 'g')"
    hex_decoded = (
        f"array_to_string(list_transform(string_split({backslashes}, '\\x'), lambda part, i: "
        f"CASE WHEN i = 1 THEN part "
        f"WHEN regexp_matches(part, '^([2-6][0-9A-Fa-f]|7[0-9A-Ea-e])') "
        f"THEN chr(CAST('0x' || left(part, 2) AS INTEGER)) || substr(part, 3) "
        f"ELSE '\\x' || part END), '')"
    )
    return f"CASE WHEN strpos({expr}, '\\') > 0 THEN {hex_decoded} ELSE {expr} END"


def first_address(expr: str) -> str:
    """X-Forwarded-For style lists: the first (client-most) address."""
    return dash_null(f"trim(split_part({expr}, ',', 1))")


def absolute_uri_host(target: str) -> str:
    """Host of an absolute-form request target (`http://host:80/x` -> `host`), else NULL."""
    return f"nullif(regexp_extract({target}, '^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]+)', 1), '')"


def origin_form(target: str) -> str:
    """`https://host:443/x?y` -> `/x?y` (ALB and CDNs log the absolute form for every request)."""
    return (f"CASE WHEN regexp_matches({target}, '^[A-Za-z][A-Za-z0-9+.-]*://') "
            f"THEN coalesce(nullif(regexp_extract({target}, '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*(.*)$', 1), ''), '/') "
            f"ELSE {target} END")


def strip_port(host: str) -> str:
    return f"regexp_replace({host}, ':[0-9]+$', '')"


def session_from_cookie_header(expr: str) -> str:
    names = "|".join(n.replace(".", "\\.") for n in SESSION_COOKIES)
    return f"nullif(regexp_extract({expr}, '(?i)(?:^|;)\\s*(?:{names})=([^;\\s]+)', 1), '')"


def graphql_from_body(body: str, path: str) -> str:
    """The GraphQL document of a request body: the `query` of a JSON body (or of the first item of a
    batch), or the body itself when it is a bare document; only for GraphQL endpoints."""
    decoded = unescape(body)
    return (
        f"CASE WHEN {path} ILIKE '%graphql%' AND {dash_null(body)} IS NOT NULL THEN "
        f"CASE WHEN json_valid({decoded}) THEN coalesce(json_extract_string({decoded}, '$.query'), "
        f"json_extract_string({decoded}, '$[0].query')) ELSE {decoded} END END"
    )


def seconds_to_ms(expr: str) -> str:
    """`0.123` or nginx upstream lists `0.1, 0.2 : 0.3` (sum of attempts) in seconds -> milliseconds."""
    return (f"CASE WHEN regexp_full_match({expr}, '[0-9.]+') THEN TRY_CAST({expr} AS DOUBLE) * 1000 "
            f"WHEN regexp_matches({expr}, '[0-9]') THEN list_sum(list_transform(regexp_extract_all({expr}, '[0-9]+(?:\\.[0-9]+)?'), "
            f"lambda v: TRY_CAST(v AS DOUBLE))) * 1000 END")
