"""Writing a generated day: canonical JSONL, nginx access log, labels, and the world's ASN table.

Outputs are byte-identical for the same arguments: rows are in a fixed order, gzip headers carry
no name or time, and files appear atomically (temp file, then rename).
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import polars as pl

from gatewarden.canonical import INPUT_FIELDS
from gatewarden.generator.world import asn_table

NGINX_LOG_FORMAT = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" '
    '$request_time "$http_authorization" $ssl_ja4 "$cookie_session" "$http_accept_language" $request_id "$request_body"'
)
LABEL_COLUMNS = ("request_id", "scenario", "is_attack", "entity_scope", "entity_value", "expected_detector")


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# Above this many rows compression dominates the run time; favour speed (bigger files) over size.
FAST_GZIP_ROWS = 200_000


def _gzip(text: bytes, rows: int) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6 if rows <= FAST_GZIP_ROWS else 1) as gz:
        gz.write(text)
    return buf.getvalue()


def canonical(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows with exactly the canonical JSONL fields, in their documented order."""
    return rows.with_columns(
        ts=pl.from_epoch("ts_ms", time_unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
        token=pl.col("auth"),
    ).select(INPUT_FIELDS)


def write_jsonl(rows: pl.DataFrame, path: Path) -> None:
    buf = io.BytesIO()
    canonical(rows).write_ndjson(buf)
    _atomic(path, _gzip(buf.getvalue(), len(rows)))


def nginx_escape(expr: pl.Expr) -> pl.Expr:
    """nginx's default log escaping: `"`, `\\` and bytes outside printable ASCII become \\xHH."""
    return expr.str.replace_all("\\", "\\x5C", literal=True).str.replace_all('"', "\\x22", literal=True)


def _dash(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Utf8).fill_null("-")


def nginx_lines(rows: pl.DataFrame) -> pl.Series:
    ms = pl.col("duration_ms")
    body = pl.when(pl.col("graphql_query").is_not_null()).then(
        pl.concat_str([pl.lit('{"query":"'), pl.col("graphql_query").str.replace_all('"', '\\"', literal=True), pl.lit('"}')]))
    quoted = {name: _dash(nginx_escape(expr)) for name, expr in {
        "request": pl.concat_str([pl.col("method"), pl.lit(" "), pl.col("path"), pl.lit(" HTTP/1.1")]),
        "referer": pl.col("referer"), "ua": pl.col("user_agent"), "auth": pl.col("auth"),
        "session": pl.col("session_id"), "lang": pl.col("accept_language"), "body": body,
    }.items()}
    line = pl.concat_str([
        pl.col("client_ip"), pl.lit(" - - ["),
        pl.from_epoch("ts_ms", time_unit="ms").dt.strftime("%d/%b/%Y:%H:%M:%S +0000"), pl.lit('] "'),
        quoted["request"], pl.lit('" '), pl.col("status").cast(pl.Utf8), pl.lit(" "), pl.col("bytes_out").cast(pl.Utf8),
        pl.lit(' "'), quoted["referer"], pl.lit('" "'), quoted["ua"], pl.lit('" '),
        (ms // 1000).cast(pl.Utf8), pl.lit("."), (ms % 1000).cast(pl.Utf8).str.zfill(3),
        pl.lit(' "'), quoted["auth"], pl.lit('" '), _dash(pl.col("ja4")), pl.lit(' "'), quoted["session"],
        pl.lit('" "'), quoted["lang"], pl.lit('" '), pl.col("request_id"), pl.lit(' "'), quoted["body"], pl.lit('"'),
    ])
    return rows.select(line.alias("line")).to_series()


def write_nginx(rows: pl.DataFrame, path: Path) -> None:
    text = "\n".join(nginx_lines(rows).to_list()) + "\n"
    _atomic(path, _gzip(text.encode(), len(rows)))


def labels(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(is_attack=pl.col("scenario").str.starts_with("attack_")).select(LABEL_COLUMNS)


def write_labels(rows: pl.DataFrame, path: Path) -> None:
    _atomic(path, _gzip(labels(rows).write_csv().encode(), len(rows)))


def write_asn_table(path: Path) -> None:
    _atomic(path, asn_table().write_csv(separator="\t", include_header=False).encode())
