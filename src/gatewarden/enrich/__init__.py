"""Enrichment: IP numbers and networks, ASN tables and hosting flags, user-agent classes, verified crawlers,
endpoint templates. Kept free of the parsers package so detectors and decisions can import it cheaply."""

from __future__ import annotations


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"
