"""The registry of log formats: adding a format is one module and one line in PARSERS."""

from __future__ import annotations

from gatewarden.errors import UsageError
from gatewarden.parsers.alb import Alb
from gatewarden.parsers.base import FileParser, LineParser, Parser, ParserOptions
from gatewarden.parsers.clf import Nginx
from gatewarden.parsers.cloudflare import Cloudflare
from gatewarden.parsers.errorlog import ApacheError, NginxError
from gatewarden.parsers.jsonl import Jsonl
from gatewarden.parsers.tabular import Csv, Parquet

# One format per line. Order matters for sniffing: on a tie, the earlier (more specific) wins.
PARSERS: dict[str, type[Parser]] = {p.name: p for p in (
    Jsonl,
    Cloudflare,
    Alb,
    NginxError,
    ApacheError,
    Nginx,
    Csv,
    Parquet,
)}


def format_names() -> list[str]:
    return ["auto", *PARSERS]


def make_parser(name: str, options: ParserOptions) -> Parser:
    try:
        return PARSERS[name](options)
    except KeyError:
        raise UsageError(f"Unknown format {name!r}.", f"Use one of: {', '.join(format_names())}.") from None


__all__ = ["PARSERS", "FileParser", "LineParser", "Parser", "ParserOptions", "format_names", "make_parser"]
