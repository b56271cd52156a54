"""Ingest: files -> parser -> canonical `requests` rows, with every rejected line kept and counted.

Per batch of lines, all work is set-based SQL; Python only touches the distinct tokens and the
distinct IPv6 addresses of the batch. Batches commit one by one, so memory stays flat however big
the file; a file still lands whole or not at all (its `ingested_files` row is written last), and
re-ingesting identical content is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import duckdb
import pyarrow as pa

from gatewarden.config import Config
from gatewarden.db import rows, scalar, worker_cursor
from gatewarden.enrich.asn_lookup import attach_asn
from gatewarden.enrich.endpoints import endpoint_sql, query_keys_sql
from gatewarden.enrich.ip import build_ip_map
from gatewarden.errors import GatewardenError
from gatewarden.parsers import FileParser, LineParser, Parser, ParserOptions, make_parser
from gatewarden.parsers.base import LINES, sql_str
from gatewarden.parsers.sniff import sniff
from gatewarden.parsers.suggest import suggestion
from gatewarden.secrets import TokenClassifier, redact_sql
from gatewarden.sources import ContentDigest, ReadProblem, content_hash, expand_paths, prefetched, read_line_batches

Progress = Callable[[Path, int], None]
PARALLEL_SCAN_ROWS = 16_384
RELEASE_EVERY = 4  # batches between memory releases, which wait for both lanes to be idle
BATCH_TABLES = ("gw_parsed", "gw_ip_map", "gw_path_map", "gw_referer_map")


@dataclass
class FileResult:
    path: Path
    status: str  # ingested | replaced | unchanged
    format: str = ""
    lines: int = 0
    accepted: int = 0
    rejected: int = 0
    min_ts: datetime | None = None
    max_ts: datetime | None = None
    blank: int = 0  # empty lines: counted among the rejects, but not evidence of a wrong format
    problems: list[str] = field(default_factory=list)


class BatchCounts(NamedTuple):
    lines: int
    rejected: int
    blank: int
    min_ts: datetime | None
    max_ts: datetime | None


class IngestRefused(GatewardenError):
    """A file whose rejected share is above ingest.max_reject_ratio."""


def _same_content(recorded: str, digest: str, path: Path) -> bool:
    # Files recorded before the switch to sha256 carry a bare blake2b digest.
    return recorded == digest or (":" not in recorded and recorded == content_hash(path, legacy=True))


def _canonical_insert(cfg: Config, source_file: str) -> str:
    return f"""
    INSERT INTO requests
    SELECT p.ts,
           nullif(p.request_id, ''),
           coalesce(m.client_ip, p.client_ip),
           m.ip_num,
           coalesce(TRY_CAST(regexp_replace(p.asn, '^(?i:AS)', '') AS INTEGER), m.asn),
           coalesce(nullif(p.as_org, ''), m.as_org),
           upper(coalesce(nullif(p.country, ''), m.country)),
           upper(p.method),
           lower(p.host),
           pm.path,
           pm.endpoint,
           pm.query_keys,
           TRY_CAST(p.status AS SMALLINT),
           TRY_CAST(p.bytes_out AS BIGINT),
           round(TRY_CAST(p.duration_ms AS DOUBLE), 3),  -- seconds * 1000 in parsers leaves float noise
           p.user_agent,
           rm.referer,
           t.token,
           t.token_exp,
           nullif(p.session_id, ''),
           nullif(p.ja3, ''),
           nullif(p.ja4, ''),
           TRY_CAST(TRY_CAST(p.bot_score AS DOUBLE) AS SMALLINT),
           nullif(p.graphql_query, ''),
           nullif(p.accept_language, ''),
           '{source_file.replace("'", "''")}',
           p.source_line
    FROM gw_parsed p
    LEFT JOIN gw_ip_map m ON m.raw_ip = p.client_ip
    LEFT JOIN gw_token_map t ON t.raw = p.token
    LEFT JOIN gw_path_map pm ON pm.raw = p.path
    LEFT JOIN gw_referer_map rm ON rm.raw = p.referer
    WHERE p.reject_reason IS NULL
    -- In file order: an INSERT that scans several row groups in parallel writes them in any order, and the
    -- detectors break ties of time by rowid (req_key), so runs over the same file differed.
    ORDER BY p.source_line"""


def _path_maps_sql(cfg: Config) -> list[str]:
    """Path-derived columns computed once per distinct value and joined back: a day repeats the same
    paths and referers millions of times, and the regexes (redaction, id templating) dominate the cost."""
    distinct = "SELECT DISTINCT {col} AS raw FROM gw_parsed WHERE reject_reason IS NULL AND {col} IS NOT NULL"
    return [
        f"""CREATE OR REPLACE TEMP TABLE gw_path_map AS
        SELECT raw, {redact_sql('raw')} AS path, {endpoint_sql('raw', cfg.endpoints.rules, cfg.endpoints.openapi)} AS endpoint,
               {query_keys_sql('raw')} AS query_keys
        FROM ({distinct.format(col='path')})""",
        f"""CREATE OR REPLACE TEMP TABLE gw_referer_map AS
        SELECT raw, {redact_sql('raw')} AS referer FROM ({distinct.format(col='referer')})""",
    ]


class Ingestor:
    def __init__(self, con: duckdb.DuckDBPyConnection, cfg: Config, options: ParserOptions,
                 fmt: str = "auto", progress: Progress | None = None):
        self.con = con
        self.cfg = cfg
        self.options = options
        self.fmt = fmt
        self.progress = progress
        self.tokens = TokenClassifier(cfg.secrets)
        self.path_maps = _path_maps_sql(cfg)
        self.have_asn = bool(scalar(con, "SELECT count(*) > 0 FROM asn_ranges"))

    def ingest(self, paths: list[str]) -> list[FileResult]:
        return [self.ingest_file(p) for p in expand_paths(paths)]

    def ingest_file(self, path: Path) -> FileResult:
        source = str(path)
        previous = rows(self.con, "SELECT content_hash FROM ingested_files WHERE source_file = ?", [source])
        # A file seen before is hashed up front, to know whether it changed; a new one as its lines are read.
        digest = content_hash(path) if previous else None
        if previous and _same_content(previous[0][0], digest, path):
            return FileResult(path, "unchanged")
        parser = sniff(self.con, path, self.options) if self.fmt == "auto" else make_parser(self.fmt, self.options)
        result = FileResult(path, "replaced" if previous else "ingested", parser.name)
        # Each batch commits on its own: one transaction per file would hold a whole day's uncommitted rows in
        # memory. A file still lands whole or not at all, because its `ingested_files` row is written last: a
        # failed or refused load removes what it added, and a crashed one is cleared by the next run (below),
        # which sees no record of the file and loads it again.
        self._forget(source)
        try:
            reading = ContentDigest() if digest is None and parser.line_based else None
            self._load(path, parser, result, reading)
            digest = digest or (reading.text() if reading else content_hash(path))
            self._refuse_if_mostly_rejected(path, parser, result)
            self.con.execute(
                "INSERT INTO ingested_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)",
                [source, digest, path.stat().st_size, parser.name, result.lines, result.accepted,
                 result.rejected, result.min_ts, result.max_ts],
            )
        except BaseException:
            self._forget(source)
            raise
        finally:
            for name in BATCH_TABLES:
                self.con.execute(f"DROP TABLE IF EXISTS {name}")
        return result

    def _forget(self, source: str) -> None:
        self.con.begin()
        for table in ("requests", "rejects", "ingested_files"):
            self.con.execute(f"DELETE FROM {table} WHERE source_file = ?", [source])
        self.con.commit()

    def _load(self, path: Path, parser: Parser, result: FileResult, digest: ContentDigest | None) -> None:
        if isinstance(parser, FileParser):
            self._prepare_batch(self.con, parser.file_sql(path))
            self._add(result, self._store_batch(self.con, path, parser))
            return
        assert isinstance(parser, LineParser)
        problems: list[ReadProblem] = []
        sql = parser.select_sql()
        # Two lanes, so that storing batch N (an INSERT that keeps about one core busy while it compresses and
        # writes the rows) runs beside parsing batch N+1 on the other core. Batches are stored one after another,
        # in file order, so `requests` keeps the order of the file.
        lanes = (worker_cursor(self.con), worker_cursor(self.con))
        storing: Future | None = None
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="gatewarden-store") as background:
                batches = prefetched(read_line_batches(path, self.cfg.ingest.chunk_mb << 20, problems, digest))
                for n, batch in enumerate(batches):
                    if storing and n % RELEASE_EVERY == 0:
                        self._add(result, storing.result())
                        storing = None
                        self._release_batch_memory()
                    lane = lanes[n % 2]
                    # Registered as many small record batches: DuckDB scans an Arrow table one batch per thread,
                    # and a batch of 200k lines in a single chunk kept one of the two cores idle for half the parse.
                    lane.register(LINES, pa.Table.from_batches(batch.table.to_batches(max_chunksize=PARALLEL_SCAN_ROWS)))
                    try:
                        self._prepare_batch(lane, sql)
                    finally:
                        lane.unregister(LINES)
                    if storing:
                        self._add(result, storing.result())
                    storing = background.submit(self._store_batch, lane, path, parser)
                    if self.progress:
                        self.progress(path, batch.table.num_rows)
                if storing:
                    self._add(result, storing.result())
        finally:
            for lane in lanes:
                lane.close()
        self._release_batch_memory()
        for problem in problems:
            result.problems.append(f"after line {result.lines}: {problem.reason}")
            self.con.execute(
                "INSERT INTO rejects VALUES (?, NULL, ?, NULL, ?, current_timestamp)",
                [str(path), f"file damaged after line {result.lines}: {problem.reason}", parser.name],
            )

    def _prepare_batch(self, con: duckdb.DuckDBPyConnection, parsed_sql: str) -> None:
        """The batch's parsed lines and its maps of distinct values, as working tables of `con`."""
        con.execute(
            # The raw line is kept only where a reject needs it: copying every accepted line is wasted work.
            # Only rejected lines are tested for being blank (a line with a timestamp is not): trimming every
            # line cost a fifth of the parse.
            f"""CREATE OR REPLACE TEMP TABLE gw_parsed AS
            SELECT * REPLACE (CASE WHEN reject_reason IS NOT NULL THEN raw END AS raw)
            FROM (SELECT * REPLACE (CASE WHEN reject_reason IS NOT NULL OR ts IS NULL THEN coalesce(
                CASE WHEN trim(raw) = '' THEN 'empty line' END,
                reject_reason,
                'timestamp missing or not understood') END AS reject_reason)
            FROM ({parsed_sql}))"""
        )
        self._register_token_map(con)
        build_ip_map(con, "gw_parsed")
        if self.have_asn:
            attach_asn(con, "gw_ip_map")
        else:
            con.execute("CREATE OR REPLACE TEMP TABLE gw_ip_map AS SELECT *, NULL::INTEGER AS asn, "
                        "NULL::VARCHAR AS as_org, NULL::VARCHAR AS country FROM gw_ip_map")
        for sql in self.path_maps:
            con.execute(sql)

    def _store_batch(self, con: duckdb.DuckDBPyConnection, path: Path, parser: Parser) -> BatchCounts:
        """Canonical rows and rejects of the batch `_prepare_batch` left in `con`; its working tables are dropped."""
        try:
            con.execute(_canonical_insert(self.cfg, str(path)))
            keep = self.cfg.ingest.reject_text_bytes
            con.execute(
                f"""INSERT INTO rejects
                SELECT ?, source_line, reject_reason, left({redact_sql('raw')}, {keep}), ?, current_timestamp
                FROM gw_parsed WHERE reject_reason IS NOT NULL""",
                [str(path), parser.name],
            )
            return BatchCounts(*con.execute(
                "SELECT count(*), count(reject_reason), count(*) FILTER (reject_reason = 'empty line'), "
                "min(ts) FILTER (reject_reason IS NULL), "
                "max(ts) FILTER (reject_reason IS NULL) FROM gw_parsed").fetchall()[0])
        finally:
            con.unregister("gw_token_map")
            for name in BATCH_TABLES:
                con.execute(f"DROP TABLE IF EXISTS {name}")

    @staticmethod
    def _add(result: FileResult, batch: BatchCounts) -> None:
        result.lines += batch.lines
        result.rejected += batch.rejected
        result.blank += batch.blank
        result.accepted += batch.lines - batch.rejected
        result.min_ts = min(x for x in (result.min_ts, batch.min_ts) if x is not None) if (result.min_ts or batch.min_ts) else None
        result.max_ts = max(x for x in (result.max_ts, batch.max_ts) if x is not None) if (result.max_ts or batch.max_ts) else None

    def _release_batch_memory(self) -> None:
        # A dropped working table keeps its memory in DuckDB's buffer pool until something needs it, so a big file
        # grew the process with every batch (60 MB per million extras lines, up to memory_limit). Lowering the limit
        # for a moment, while no lane is working, makes DuckDB free that memory (and any cached blocks of committed
        # rows, which ingest does not read again).
        try:
            self.con.execute("SET memory_limit = '1MB'")
        except duckdb.OutOfMemoryException:
            pass  # something else holds memory: it evicted what it could, which is all this is for
        finally:
            self.con.execute(f"SET memory_limit = {sql_str(self.cfg.database.memory_limit)}")

    def _register_token_map(self, con: duckdb.DuckDBPyConnection) -> None:
        raw = [r[0] for r in con.execute(
            "SELECT DISTINCT token FROM gw_parsed WHERE token IS NOT NULL AND reject_reason IS NULL").fetchall()]
        identities = [self.tokens.classify(v) for v in raw]
        table = pa.table({
            "raw": pa.array(raw, pa.string()),
            "token": pa.array([i.token for i in identities], pa.string()),
            "token_exp": pa.array([i.exp for i in identities], pa.timestamp("us")),
        })
        con.register("gw_token_map", table)

    def _refuse_if_mostly_rejected(self, path: Path, parser: Parser, result: FileResult) -> None:
        lines, bad = result.lines - result.blank, result.rejected - result.blank
        if lines == 0 or bad / lines <= self.cfg.ingest.max_reject_ratio:
            return
        first = rows(self.con, "SELECT source_line, reason, left(raw, 200) FROM rejects WHERE source_file = ? "
                     "AND source_line IS NOT NULL AND reason <> 'empty line' ORDER BY source_line LIMIT 1", [str(path)])
        line, reason, raw = first[0] if first else (None, "unknown", "")
        raise IngestRefused(
            f"{path}: {bad} of {lines} non-empty lines ({bad / lines:.0%}) could not be "
            f"read as {parser.name}; first bad line {line}: {reason}: {raw!r}.",
            suggestion(parser, raw or ""),
        )
