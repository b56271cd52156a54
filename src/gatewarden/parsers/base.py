"""What a log format module provides.

A parser turns one input file into rows of the *parsed* relation:

    source_line BIGINT, raw VARCHAR, reject_reason VARCHAR, ts TIMESTAMP,
    and every other canonical input field as VARCHAR (see canonical.PARSED_FIELDS)

Line parsers (most formats) give a SELECT over the table `gw_lines(source_line, line)`, which the
ingest loop fills batch by batch; the SELECT runs inside DuckDB, so parsing is set-based.
File parsers (CSV with a header, Parquet) read the whole file with DuckDB's own reader.
Canonicalisation (casts, IP normalisation, secrets, endpoints, enrichment) is shared and happens
after, in gatewarden.ingest, so a format module only says where each field is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from gatewarden.canonical import PARSED_FIELDS

LINES = "gw_lines"


@dataclass(frozen=True)
class ParserOptions:
    log_format: str | None = None
    field_map: dict[str, str] = field(default_factory=dict)


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def parsed_select(
    fields: dict[str, str],
    source: str,
    reject_reason: str = "NULL",
    source_line: str = "source_line",
    raw: str = "line",
) -> str:
    """Build the parsed-relation SELECT. `fields` maps canonical names to SQL expressions;
    missing fields become NULL. `ts` must already be a TIMESTAMP expression."""
    unknown = set(fields) - set(PARSED_FIELDS)
    if unknown:
        raise ValueError(f"not canonical fields: {sorted(unknown)}")
    cols = [f"CAST({source_line} AS BIGINT) AS source_line", f"CAST({raw} AS VARCHAR) AS raw",
            f"CAST({reject_reason} AS VARCHAR) AS reject_reason"]
    for name in PARSED_FIELDS:
        expr = fields.get(name, "NULL")
        sql_type = "TIMESTAMP" if name == "ts" else "VARCHAR"
        cols.append(f"CAST({expr} AS {sql_type}) AS {name}")
    return "SELECT " + ",\n       ".join(cols) + f"\nFROM {source}"


def dash_null(expr: str) -> str:
    """Log formats write '-' or '' for an absent value."""
    return f"nullif(nullif({expr}, '-'), '')"


class Parser(ABC):
    name: ClassVar[str]
    summary: ClassVar[str]
    line_based: ClassVar[bool] = True

    def __init__(self, options: ParserOptions):
        self.options = options

    def usable(self) -> bool:
        """False when the parser needs an option it was not given (e.g. a log_format string)."""
        return True


class LineParser(Parser):
    @abstractmethod
    def select_sql(self) -> str:
        """SELECT over `gw_lines` producing the parsed relation."""


class FileParser(Parser):
    line_based = False

    @abstractmethod
    def detect(self, head: bytes, path: Path) -> bool:
        """True when the file's first bytes (decompressed) say it is this format."""

    @abstractmethod
    def file_sql(self, path: Path) -> str:
        """SELECT reading the whole file and producing the parsed relation."""

    def count_records(self, path: Path) -> str | None:
        """Optional SELECT returning the number of records in the file, for exact accounting."""
        return None
