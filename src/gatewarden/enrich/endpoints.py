"""Endpoint templates: `/v1/chats/8f3a.../messages?x=1` -> `/v1/chats/{id}/messages`.

A segment becomes `{id}` when it is a number, a UUID, long hex, a long base62 id with digits,
or a prefixed id such as `chat_9xK2...`. User rules (regex, replacement) run first on each segment.
"""

from __future__ import annotations

from gatewarden.enrich import sql_str

ID_SEGMENT = (
    r"[0-9]+"
    r"|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"|[0-9A-Fa-f]{12,}"
    r"|[A-Za-z0-9]*[0-9][A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*[0-9][A-Za-z0-9]*"
    r"|[a-z]{2,12}_[A-Za-z0-9]{8,}"
)


def endpoint_sql(path_expr: str, rules: list[tuple[str, str]] | None = None) -> str:
    """SQL expression for the endpoint template of `path_expr` (query string dropped)."""
    segment = "s"
    for pattern, replacement in rules or []:
        segment = f"regexp_replace({segment}, {sql_str(pattern)}, {sql_str(replacement)})"
    # A base62 id must be long enough not to eat words like `v1` or `gpt4o`.
    short_ok = sql_str(r"[0-9]+|[a-z]{2,12}_[A-Za-z0-9]{8,}")
    is_id = f"(regexp_full_match(s, {sql_str(ID_SEGMENT)}) AND (length(s) >= 16 OR regexp_full_match(s, {short_ok})))"
    path = f"split_part(split_part({path_expr}, '?', 1), '#', 1)"
    return (
        f"CASE WHEN {path_expr} IS NULL THEN NULL ELSE array_to_string(list_transform(string_split({path}, '/'), "
        f"lambda s: CASE WHEN {is_id} THEN '{{id}}' ELSE {segment} END), '/') END"
    )


def query_keys_sql(path_expr: str) -> str:
    query = f"split_part(split_part({path_expr}, '#', 1), '?', 2)"
    return (
        f"list_sort(list_distinct(list_filter(list_transform(string_split({query}, '&'), "
        f"lambda kv: split_part(kv, '=', 1)), lambda k: k <> '')))"
    )
