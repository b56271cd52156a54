"""The likely fix to print when a file is mostly rejected."""

from __future__ import annotations

from gatewarden.parsers.base import Parser


def suggestion(parser: Parser, raw_line: str) -> str:
    return (
        f"Check that the file is a {parser.name} log; otherwise pass --format, or your nginx log_format with "
        "--log-format '...'; or raise --max-reject-ratio to accept the file with its bad lines counted."
    )
