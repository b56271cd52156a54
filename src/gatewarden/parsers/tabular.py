"""`csv` and `parquet`: tables with named columns, mapped to canonical fields.

Columns are matched to canonical fields by --map canonical=column, else by canonical name,
else by common aliases (remote_addr, timestamp, uri, useragent, ...), case-insensitively.
CSV is read line by line (DuckDB's reader, one column per physical line) and split in SQL, so
every data line is accounted for with its own line number: a row with the wrong number of
fields is a reject, never a silent skip. Parquet keeps file_row_number as the line.
"""

from __future__ import annotations

import re
from pathlib import Path

from gatewarden.canonical import PARSED_FIELDS
from gatewarden.errors import GatewardenError, UsageError
from gatewarden.parsers.base import FileParser, dash_null, parsed_select, sql_str
from gatewarden.sources import compression_of, head_lines

ALIASES: dict[str, tuple[str, ...]] = {
    "ts": ("timestamp", "time", "datetime", "date_time", "@timestamp", "time_local", "time_iso8601", "edgestarttimestamp",
           "request_timestamp", "event_time"),
    "client_ip": ("remote_addr", "ip", "client", "clientip", "client_address", "src_ip", "source_ip", "remote_ip", "c_ip",
                  "remote_host", "x_forwarded_for"),
    "method": ("request_method", "verb", "http_method", "cs_method"),
    "host": ("http_host", "hostname", "server_name", "domain", "cs_host", "vhost"),
    "path": ("uri", "url", "request_uri", "request_path", "cs_uri_stem", "target"),
    "status": ("status_code", "response_code", "http_status", "sc_status", "response_status"),
    "bytes_out": ("bytes", "body_bytes_sent", "bytes_sent", "size", "response_size", "sc_bytes", "response_bytes"),
    "duration_ms": ("latency_ms", "response_time_ms", "elapsed_ms", "time_taken_ms", "request_duration_ms"),
    "user_agent": ("useragent", "ua", "http_user_agent", "agent", "cs_user_agent"),
    "referer": ("referrer", "http_referer"),
    "token": ("api_key", "apikey", "x_api_key", "authorization", "api_token", "key_id"),
    "session_id": ("session", "sid", "session_key"),
    "request_id": ("req_id", "trace_id", "x_request_id", "rayid", "ray_id"),
    "country": ("country_code", "geoip_country_code", "clientcountry"),
    "asn": ("as_number", "clientasn", "asnum"),
    "ja3": ("ja3_hash", "ja3hash"),
    "accept_language": ("http_accept_language", "language"),
    "bot_score": ("botscore",),
}
DELIMITERS = (",", "\t", ";", "|")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9@]+", "_", name.strip().lower()).strip("_")


def map_columns(columns: list[str], field_map: dict[str, str]) -> dict[str, str]:
    """canonical field -> source column name."""
    by_norm = {_norm(c): c for c in reversed(columns)}
    mapping: dict[str, str] = {}
    for canonical, source in field_map.items():
        if source not in columns and _norm(source) not in by_norm:
            raise UsageError(f"--map {canonical}={source}: the file has no column {source!r}.",
                             f"Its columns are: {', '.join(columns)}.")
        mapping[canonical] = source if source in columns else by_norm[_norm(source)]
    taken = set(mapping.values())
    for canonical in PARSED_FIELDS:
        if canonical in mapping:
            continue
        for name in (canonical, *ALIASES.get(canonical, ())):
            column = by_norm.get(_norm(name))
            if column and column not in taken:
                mapping[canonical] = column
                taken.add(column)
                break
    return mapping


def _require_ts(path: Path, mapping: dict[str, str], columns: list[str]) -> None:
    if "ts" not in mapping:
        raise GatewardenError(f"{path}: no column is the request time (columns: {', '.join(columns)}).",
                              "Name it with --map ts=<column>.")


class Csv(FileParser):
    name = "csv"
    summary = "CSV/TSV with a header row; columns by canonical name, alias or --map canonical=column"

    def detect(self, head: bytes, path: Path) -> bool:
        first = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip().lower()
        if not first or first.startswith(("{", "[", "#")):
            return False
        delim = max(DELIMITERS, key=first.count)
        names = [_norm(c.strip('"')) for c in first.split(delim)]
        return first.count(delim) >= 2 and bool(set(map_columns(names, {})) & {"ts"}) and len(set(map_columns(names, {}))) >= 3

    def header(self, path: Path) -> tuple[str, list[str]]:
        lines = head_lines(path, max_lines=1)
        if not lines:
            raise GatewardenError(f"{path} is empty: a CSV file needs a header row.", "Check the file.")
        delim = max(DELIMITERS, key=lines[0].count)
        return delim, [c.strip().strip('"') for c in lines[0].split(delim)]

    def file_sql(self, path: Path) -> str:
        delim, columns = self.header(path)
        mapping = map_columns(columns, self.options.field_map)
        _require_ts(path, mapping, columns)
        d = re.escape(delim)
        field = "(?:^|" + d + ')("(?:[^"]|"")*"|[^' + d + '"]*)'
        split = f"regexp_extract_all(line, {sql_str(field)}, 1)"
        compression = {"gzip": "gzip", "zstd": "zstd"}.get(compression_of(path) or "", "none")
        lines = (f"SELECT row_number() OVER () AS source_line, line FROM read_csv({sql_str(str(path))}, "
                 f"columns={{'line': 'VARCHAR'}}, delim='\\0', quote='', escape='', header=false, auto_detect=false, "
                 f"compression='{compression}', strict_mode=false, null_padding=false)")
        inner = f"SELECT source_line, line, {split} AS f FROM ({lines}) WHERE source_line > 1"

        def col(canonical: str) -> str:
            i = columns.index(mapping[canonical]) + 1
            return dash_null(f"regexp_replace(regexp_replace(trim(f[{i}]), '^\"(.*)\"$', '\\1', 's'), '\"\"', '\"', 'g')")

        fields = {c: col(c) for c in mapping}
        fields["ts"] = f"gw_ts({col('ts')})"
        reason = f"CASE WHEN len(f) <> {len(columns)} THEN 'expected {len(columns)} fields, found ' || len(f) END"
        return parsed_select(fields, f"({inner})", reject_reason=reason)


class Parquet(FileParser):
    name = "parquet"
    summary = "Parquet files; columns by canonical name, alias or --map canonical=column"

    def detect(self, head: bytes, path: Path) -> bool:
        return head.startswith(b"PAR1")

    def file_sql(self, path: Path) -> str:
        import pyarrow.parquet as pq  # ~0.1 s to import; only Parquet input needs it

        try:
            schema = pq.read_schema(path)
        except Exception as exc:  # pyarrow raises several types for a damaged footer
            raise GatewardenError(f"{path} is not a readable Parquet file: {exc}.", "Check that the file is complete.") from None
        columns = list(schema.names)
        mapping = map_columns(columns, self.options.field_map)
        _require_ts(path, mapping, columns)

        def col(canonical: str) -> str:
            return '"' + mapping[canonical].replace('"', '""') + '"'

        fields = {c: f"CAST({col(c)} AS VARCHAR)" for c in mapping}
        ts_type = str(schema.field(mapping["ts"]).type)
        fields["ts"] = (f"CAST({col('ts')} AS TIMESTAMP)" if ts_type.startswith(("timestamp", "date"))
                        else f"gw_ts(CAST({col('ts')} AS VARCHAR))")
        source = f"read_parquet({sql_str(str(path))}, file_row_number=true)"
        return parsed_select(fields, source, source_line="file_row_number + 1", raw="NULL")

    def count_records(self, path: Path) -> str | None:
        return f"SELECT count(*) FROM read_parquet({sql_str(str(path))})"
