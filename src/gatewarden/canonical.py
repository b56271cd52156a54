"""The canonical `requests` schema: the one contract between parsing and everything after it.

The column list below is the single source of truth: the DDL, the parser contract and
docs/schema.md are all derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    doc: str
    from_input: bool = True  # accepted as-is in canonical JSONL; False = derived by gatewarden


COLUMNS: tuple[Column, ...] = (
    Column("ts", "TIMESTAMP", "Request time in UTC. Input: RFC3339, epoch s/ms/us/ns, or CLF `10/Oct/2000:13:55:36 -0700`."),
    Column("request_id", "VARCHAR", "Gateway/CDN request id (RayID, X-Request-Id, ALB trace id)."),
    Column("client_ip", "VARCHAR", "Client address, IPv4 dotted or IPv6; IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is stored as IPv4."),
    Column("ip_num", "UHUGEINT", "The address as a 128-bit integer (IPv4 mapped into ::ffff:0:0/96), for range joins.", False),
    Column("asn", "INTEGER", "Origin autonomous system number (from the log, else from `gatewarden asn import` tables)."),
    Column("as_org", "VARCHAR", "Name of the AS organisation."),
    Column("country", "VARCHAR", "ISO 3166 alpha-2 country code."),
    Column("method", "VARCHAR", "HTTP method, upper case."),
    Column("host", "VARCHAR", "Host header / virtual host, lower case."),
    Column("path", "VARCHAR", "Request target as logged (path with query), secrets redacted."),
    Column("endpoint", "VARCHAR", "Templated path without query, e.g. `/v1/chats/{id}/messages`.", False),
    Column("query_keys", "VARCHAR[]", "Sorted distinct query parameter names.", False),
    Column("status", "SMALLINT", "HTTP status code."),
    Column("bytes_out", "BIGINT", "Response bytes sent to the client."),
    Column("duration_ms", "DOUBLE", "Request duration in milliseconds."),
    Column("user_agent", "VARCHAR", "User-Agent header."),
    Column("referer", "VARCHAR", "Referer header, secrets redacted."),
    Column("token", "VARCHAR", "Caller identity, never a raw secret: logged id (`key_3f9a...`), `jwt:<sub or jti>`, or `h:<keyed hash>`."),
    Column("token_exp", "TIMESTAMP", "`exp` claim of a JWT token, when the token was a JWT.", False),
    Column("session_id", "VARCHAR", "Session identifier (cookie or header)."),
    Column("ja3", "VARCHAR", "JA3 TLS fingerprint hash."),
    Column("ja4", "VARCHAR", "JA4 TLS fingerprint."),
    Column("bot_score", "SMALLINT", "CDN bot score, 1 (automated) to 99 (human), as Cloudflare defines it."),
    Column("graphql_query", "VARCHAR", "GraphQL document sent with the request, if logged."),
    Column("accept_language", "VARCHAR", "Accept-Language header, when logged (fingerprinting)."),
    Column("source_file", "VARCHAR", "Absolute path of the file the row came from.", False),
    Column("source_line", "BIGINT", "1-based line (or record) number in that file.", False),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)

# What canonical JSONL accepts, in the documented order.
INPUT_FIELDS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.from_input)

# What a parser hands to canonicalisation: every input field as text, except `ts`,
# which each parser turns into a TIMESTAMP with the `gw_ts` macro or its own logic.
PARSED_FIELDS: tuple[str, ...] = INPUT_FIELDS


def requests_ddl() -> str:
    cols = ",\n    ".join(f"{c.name} {c.sql_type}" for c in COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS requests (\n    {cols}\n)"


def schema_markdown() -> str:
    rows = "\n".join(
        f"| `{c.name}` | {c.sql_type} | {'input' if c.from_input else 'derived'} | {c.doc} |" for c in COLUMNS
    )
    return "| column | type | origin | meaning |\n|---|---|---|---|\n" + rows + "\n"
