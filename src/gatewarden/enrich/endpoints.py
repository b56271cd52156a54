"""Endpoint templates: `/v1/chats/8f3a.../messages?x=1` -> `/v1/chats/{id}/messages`.

A segment becomes `{id}` when it is a number, a UUID, long hex, a long base62 id with digits,
or a prefixed id such as `chat_9xK2...` / `chatcmpl-9xK2...`. User rules (regex, replacement) run first on
each segment. Paths matching an OpenAPI template (config endpoints.openapi) take the template instead.
"""

from __future__ import annotations

from pathlib import Path

from gatewarden.enrich import sql_str
from gatewarden.enrich.openapi import load_openapi

UUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"


def is_id_sql(s: str) -> str:
    """SQL condition: segment `s` is an identifier. Length floors and the digit requirement keep words and
    model names (`v1`, `completions`, `gpt-4o`, `text-embedding-3-small`) out."""
    return (
        f"(regexp_full_match({s}, '[0-9]+')"
        f" OR regexp_full_match({s}, {sql_str(UUID)})"
        f" OR (length({s}) >= 12 AND regexp_full_match({s}, '[0-9A-Fa-f]+') AND regexp_matches({s}, '[0-9]'))"
        f" OR (length({s}) >= 16 AND regexp_full_match({s}, '[A-Za-z0-9]+') AND regexp_matches({s}, '[0-9]')"
        f" AND regexp_matches({s}, '[A-Za-z]'))"
        # A prefixed id's body is long, or has a digit, or mixes cases; `text_embedding` has none of these.
        f" OR (regexp_full_match({s}, '[a-z]{{2,12}}_[A-Za-z0-9]{{8,}}') AND (length({s}) - strpos({s}, '_') >= 12"
        f" OR regexp_matches({s}, '_.*[0-9]') OR (regexp_matches({s}, '_.*[a-z]') AND regexp_matches({s}, '_.*[A-Z]'))))"
        f" OR (regexp_full_match({s}, '[a-z]{{2,12}}-[A-Za-z0-9]{{12,}}') AND regexp_matches({s}, '-.*[0-9]')))"
    )


def endpoint_sql(path_expr: str, rules: list[tuple[str, str]] | None = None, openapi: Path | None = None) -> str:
    """SQL expression for the endpoint template of `path_expr` (query string dropped).

    With an OpenAPI spec, the first (most specific) path template whose regex matches wins; other paths
    fall back to the user rules and the built-in id rules, segment by segment.
    """
    segment = "s"
    for pattern, replacement in rules or []:
        segment = f"regexp_replace({segment}, {sql_str(pattern)}, {sql_str(replacement)})"
    path = f"split_part(split_part({path_expr}, '?', 1), '#', 1)"
    # Every id shape has a digit, an underscore or the 36 characters of a UUID; testing that first spares
    # the word segments (`v1`, `chat`, `completions`) the full set of id regexes.
    maybe_id = "(regexp_matches(s, '[0-9_]') OR length(s) = 36)"
    builtin = (f"array_to_string(list_transform(string_split({path}, '/'), "
               f"lambda s: CASE WHEN {maybe_id} AND {is_id_sql('s')} THEN '{{id}}' ELSE {segment} END), '/')")
    templates = " ".join(f"WHEN regexp_full_match({path}, {sql_str(spec.regex)}) THEN {sql_str(spec.template)}"
                         for spec in (load_openapi(openapi) if openapi else ()))
    return f"CASE WHEN {path_expr} IS NULL THEN NULL {templates} ELSE {builtin} END"


def query_keys_sql(path_expr: str) -> str:
    query = f"split_part(split_part({path_expr}, '#', 1), '?', 2)"
    return (
        f"list_sort(list_distinct(list_filter(list_transform(string_split({query}, '&'), "
        f"lambda kv: split_part(kv, '=', 1)), lambda k: k <> '')))"
    )
