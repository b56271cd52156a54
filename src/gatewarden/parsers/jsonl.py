"""JSON Lines: the canonical form as is, or any other JSONL export through a field map.

Each line is parsed once by DuckDB (`json_extract_string` with a list of paths); a field map
entry `token=headers.x-api-key` reads a nested field.
"""

from __future__ import annotations

from gatewarden.canonical import PARSED_FIELDS
from gatewarden.parsers.base import LINES, LineParser, parsed_select, sql_str


def json_path(source: str) -> str:
    """`a.b-c` -> `$."a"."b-c"`; a value already starting with `$` is used as is."""
    if source.startswith("$"):
        return source
    return "$" + "".join('."' + part.replace('"', '\\"') + '"' for part in source.split("."))


def json_fields_sql(mapping: dict[str, str], ts_expr: str = "gw_ts({})") -> tuple[str, dict[str, str]]:
    """A subquery column `j` holding all mapped values, and canonical field -> expression over it."""
    names = list(mapping)
    paths = ", ".join(sql_str(json_path(mapping[n])) for n in names)
    fields = {}
    for i, name in enumerate(names, start=1):
        value = f"j[{i}]"
        fields[name] = ts_expr.format(value) if name == "ts" else value
    return f"json_extract_string(line, [{paths}]) AS j", fields


class Jsonl(LineParser):
    name = "jsonl"
    summary = "JSON Lines: canonical field names, or any names through --map canonical=source"

    def mapping(self) -> dict[str, str]:
        mapping = {f: f for f in PARSED_FIELDS}
        mapping.update(self.options.field_map)
        return mapping

    def select_sql(self) -> str:
        extract, fields = json_fields_sql(self.mapping())
        inner = (
            f"SELECT source_line, line, json_valid(line) AND left(ltrim(line), 1) = '{{' AS ok, "
            f"CASE WHEN json_valid(line) AND left(ltrim(line), 1) = '{{' THEN {extract.replace(' AS j', '')} END AS j "
            f"FROM {LINES}"
        )
        return parsed_select(
            fields,
            f"({inner})",
            reject_reason="CASE WHEN NOT ok THEN 'not a JSON object' END",
        )
