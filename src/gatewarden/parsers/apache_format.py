"""Apache `LogFormat` directives, translated to the nginx variables logformat.py understands."""

from __future__ import annotations

import re

DIRECTIVE = re.compile(r"%[<>]?(?:!?\d{3}(?:,\d{3})*)?(?:\{([^}]*)\})?([a-zA-Z%])")

SIMPLE = {
    "h": "$remote_addr", "a": "$remote_addr", "l": "$remote_ident", "u": "$remote_user", "t": "[$time_local]",
    "r": "$request", "s": "$status", "b": "$body_bytes_sent", "B": "$body_bytes_sent", "O": "$bytes_sent",
    "D": "$apache_request_time_us", "T": "$request_time", "v": "$server_name", "V": "$host",
    "m": "$request_method", "U": "$uri", "q": "$apache_query", "H": "$server_protocol", "p": "$server_port",
    "P": "$pid", "I": "$request_length", "k": "$apache_keepalives", "X": "$apache_connection_status",
    "L": "$apache_log_id", "f": "$request_filename", "R": "$apache_handler",
}


def _header_var(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "_", name.lower())


def _directive(m: re.Match[str]) -> str:
    arg, letter = m.group(1), m.group(2)
    if letter == "%":
        return "%"
    if arg is not None:
        if letter == "i":
            return "$http_" + _header_var(arg)
        if letter == "C":
            return "$cookie_" + _header_var(arg)
        if letter == "T" and arg in ("ms", "us", "s"):
            return {"ms": "$apache_request_time_ms", "us": "$apache_request_time_us", "s": "$request_time"}[arg]
        if letter == "t" and arg in ("sec", "msec", "usec"):
            return "$msec" if arg == "sec" else "$apache_time_" + arg
        if letter == "a" and arg == "c":
            return "$realip_remote_addr"
        return f"$apache_{letter}_{_header_var(arg)}"
    return SIMPLE.get(letter, f"$apache_{letter}")


def apache_to_nginx(text: str) -> str:
    """`%h %l %u %t \\"%r\\" %>s %b` -> `$remote_addr $remote_ident $remote_user [$time_local] "$request" $status ...`."""
    return DIRECTIVE.sub(_directive, text.replace('\\"', '"'))
