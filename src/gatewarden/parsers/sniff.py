"""`--format auto`: pick the parser that accepts the most of a file's first lines.

Sniffing runs each candidate's own SQL over a sample, so it can never disagree with parsing.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow as pa

from gatewarden.errors import GatewardenError
from gatewarden.parsers import PARSERS
from gatewarden.parsers.base import LINES, FileParser, LineParser, Parser, ParserOptions
from gatewarden.parsers.suggest import infer_log_format
from gatewarden.sources import head_bytes, head_lines, read_line_batches

MIN_SHARE = 0.5


def accepted_share(con: duckdb.DuckDBPyConnection, parser: LineParser, lines: list[str]) -> float:
    sample = pa.table({"source_line": pa.array(range(1, len(lines) + 1), pa.int64()),
                       "line": pa.array(lines, pa.large_string())})
    con.register(LINES, sample)
    try:
        ok = con.execute(
            f"SELECT count(*) FROM ({parser.select_sql()}) WHERE reject_reason IS NULL AND ts IS NOT NULL"
        ).fetchall()[0][0]
    except duckdb.Error:
        ok = 0
    finally:
        con.unregister(LINES)
    return ok / len(lines)


def sniff(con: duckdb.DuckDBPyConnection, path: Path, options: ParserOptions) -> Parser:
    head = head_bytes(path)
    for cls in PARSERS.values():
        if issubclass(cls, FileParser) and cls(options).detect(head, path):
            return cls(options)
    lines = head_lines(path) or _head_of_damaged(path)
    candidates = [cls(options) for cls in PARSERS.values() if issubclass(cls, LineParser)]
    if options.log_format:
        # The given log_format is tried first; the built-in formats still read the other files of a mixed directory.
        candidates += [cls(replace(options, log_format=None)) for cls in PARSERS.values() if issubclass(cls, LineParser)]
    candidates = [p for p in candidates if p.usable()]
    if not lines:
        return candidates[0]
    scored = [(accepted_share(con, p, lines), -i, p) for i, p in enumerate(candidates)]
    share, _, best = max(scored, key=lambda t: (t[0], t[1]))
    if share < MIN_SHARE:
        raise GatewardenError(
            f"Cannot recognise the log format of {path}: no known format reads more than "
            f"{share:.0%} of its first {len(lines)} lines (first line: {lines[0][:160]!r}).",
            _fix(con, lines),
        )
    return best


def _fix(con: duckdb.DuckDBPyConnection, lines: list[str]) -> str:
    inferred = infer_log_format(lines[0])
    if inferred:
        share = accepted_share(con, PARSERS["nginx"](ParserOptions(log_format=inferred)), lines)
        if share > 0:
            return (f"It looks like an nginx/Apache log with a custom format; this --log-format, inferred from its first "
                    f"line, reads {share:.0%} of the sample: --log-format '{inferred}' "
                    "(rename any $unknown_N to the real variable; add --max-reject-ratio if some lines use another format).")
    return "Name the format with --format, or pass your nginx log_format string with --log-format '...'."


def _head_of_damaged(path: Path, max_lines: int = 200) -> list[str]:
    """First lines of an archive cut short before the sniffing sample ends (head_lines then sees nothing)."""
    for batch in read_line_batches(path, 1 << 20, []):
        return [ln for ln in batch.table.column("line").to_pylist() if ln.strip()][:max_lines]
    return []
