"""The likely fix to print when a file is mostly rejected: the format that reads it, or a ready
`--log-format` inferred from the first bad line (the way a person would read it: a bracketed CLF
time is $time_local, a quoted `GET /x HTTP/1.1` is $request, a 3-digit number after it is $status...)."""

from __future__ import annotations

import re

from gatewarden.parsers.base import Parser

TOKEN = re.compile(r'\[[^\]]*\]|"(?:[^"\\]|\\.)*"|\S+')
CLF_TIME = re.compile(r"^\[\d{1,2}/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]$")
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?$")
REQUEST = re.compile(r'^"[A-Z]{3,10} \S+( [A-Z]+/[0-9.]+)?"$|^"\\x|^"-"$')
IP = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F]*:[0-9a-fA-F:.]+)$")
HOSTNAME = re.compile(r"^(?:_|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d+)?)$")
NUMBER = re.compile(r"^\d+$")
SECONDS = re.compile(r"^\d+\.\d+$")


def infer_log_format(line: str) -> str | None:
    """A log_format string that reads `line`, or None when the line has no time or request to anchor on."""
    tokens = TOKEN.findall(line.strip().strip('"') if line.count('"') % 2 else line.strip())
    out: list[str] = []
    seen: set[str] = set()
    after_request = False

    def take(name: str, alternative: str | None = None) -> str:
        chosen = name if name not in seen else alternative
        if chosen is None or chosen in seen:
            chosen = f"unknown_{len(out)}"
        seen.add(chosen)
        return "$" + chosen

    for i, tok in enumerate(tokens):
        quoted = tok.startswith('"')
        if CLF_TIME.match(tok):
            out.append("[" + take("time_local") + "]")
        elif ISO_TIME.match(tok):
            out.append(take("time_iso8601"))
        elif quoted and REQUEST.match(tok) and "request" not in seen:
            out.append('"' + take("request") + '"')
            after_request = True
        elif quoted:
            out.append('"' + take("http_referer" if after_request else f"unknown_{i}", "http_user_agent") + '"')
        elif IP.match(tok):
            out.append(take("remote_addr", "http_x_forwarded_for"))
        elif tok == "-" and not after_request and "remote_addr" in seen and len(out) <= 3:
            out.append("-" if out[-1] == "$remote_addr" else take("remote_user"))
        elif NUMBER.match(tok) and after_request and len(tok) == 3 and "status" not in seen:
            out.append(take("status"))
        elif NUMBER.match(tok) and after_request:
            out.append(take("body_bytes_sent", "bytes_sent"))
        elif SECONDS.match(tok):
            out.append(take("request_time", "upstream_response_time"))
        elif HOSTNAME.match(tok) and "host" not in seen:
            out.append(take("host"))
        elif after_request and "/" in tok and "http_user_agent" not in seen and not tok.startswith(("http://", "https://")):
            out.append(take("http_user_agent"))  # an unquoted user agent: the last variable takes the rest of the line
            break
        elif tok == "-" and after_request:
            out.append(take("http_referer"))
        else:
            out.append(take(f"unknown_{i}"))
    if not any(v in seen for v in ("time_local", "time_iso8601")) or "request" not in seen:
        return None
    return " ".join(out)


def suggestion(parser: Parser, raw_line: str) -> str:
    inferred = infer_log_format(raw_line) if raw_line else None
    if inferred:
        return (f"If this is an nginx/Apache log with a custom format, pass it, e.g. --log-format '{inferred}' "
                "(inferred from the line above; rename $unknown_N to the real variables), or pass --format; "
                "or raise --max-reject-ratio to accept the file with its bad lines counted.")
    return (
        f"Check that the file is a {parser.name} log; otherwise pass --format, or your nginx log_format with "
        "--log-format '...'; or raise --max-reject-ratio to accept the file with its bad lines counted."
    )
