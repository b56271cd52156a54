"""Damaged and awkward input: counted rejects or one clear error, never a traceback, never a lost good line."""

from __future__ import annotations

import gzip
import hashlib

import duckdb
import zstandard

from conftest import fetch
from gatewarden.config import Config
from gatewarden.db import connect
from gatewarden.ingest import Ingestor
from gatewarden.parsers import ParserOptions

GOOD = '1.2.3.{n} - - [20/Nov/2026:10:00:{n:02d} +0000] "GET /p{n} HTTP/1.1" 200 1 "-" "ua"\n'


def good(n):
    return "".join(GOOD.format(n=i) for i in range(1, n + 1))


def test_truncated_gzip_keeps_lines_before_the_damage(tmp_path, db_path, cli):
    data = gzip.compress((good(50) * 200).encode())
    path = tmp_path / "cut.log.gz"
    path.write_bytes(data[: len(data) // 2])
    result = cli("ingest", path, "--db", db_path, "--max-reject-ratio", "1")
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert fetch(db_path, "SELECT count(*) > 1000 FROM requests") == [(True,)]
    assert fetch(db_path, "SELECT count(*) FROM rejects WHERE reason LIKE 'file damaged%'") == [(1,)]


def test_binary_garbage_invalid_utf8_and_a_10mb_line(tmp_path, db_path, cli):
    path = tmp_path / "mixed.log"
    path.write_bytes(good(40).encode() + b"\x00\xff\xfe garbage \x90\x90\n" + b"A" * (10 << 20) + b"\n"
                     + b'9.9.9.9 - - [20/Nov/2026:10:01:00 +0000] "SEARCH /\x90\x02\xb1 HTTP/1.1" 414 0 "-" "\xff"\n')
    result = cli("ingest", path, "--db", db_path, "--max-reject-ratio", "0.1")
    assert result.exit_code == 0, result.output
    assert fetch(db_path, "SELECT lines, accepted, rejected FROM ingested_files") == [(43, 41, 2)]
    assert fetch(db_path, "SELECT method, path FROM requests WHERE client_ip = '9.9.9.9'") == [("SEARCH", "/\\x90\x02\\xb1")]


def test_mostly_binary_file_is_one_clear_error(tmp_path, db_path, cli):
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)) * 100)
    result = cli("ingest", path, "--db", db_path)
    assert result.exit_code in (1, 2) and "blob.bin" in result.output and "Traceback" not in result.output


def test_four_timestamp_forms_ipv6_and_mapped_ipv4(tmp_path, db_path, cli):
    path = tmp_path / "ts.log"
    fmt = "$remote_addr [$time_iso8601] \"$request\" $status"
    path.write_text('::ffff:1.2.3.4 [2026-11-20T10:00:00Z] "GET / HTTP/1.1" 200\n'
                    '2001:db8::5 [2026-11-20T12:00:00+02:00] "GET / HTTP/1.1" 200\n'
                    '[2001:db8::6]:443 [2026-11-20T10:00:00.123456789Z] "GET / HTTP/1.1" 200\n')
    assert cli("ingest", path, "--db", db_path, "--log-format", fmt).exit_code == 0
    epoch = tmp_path / "epoch.log"
    epoch.write_text('10.0.0.1 1795168800.000 "GET / HTTP/1.1" 200\n')
    assert cli("ingest", epoch, "--db", db_path, "--log-format", '$remote_addr $msec "$request" $status').exit_code == 0
    clf = tmp_path / "clf.log"
    clf.write_text('10.0.0.2 - - [20/Nov/2026:11:00:00 +0100] "GET / HTTP/1.1" 200 1\n')
    assert cli("ingest", clf, "--db", db_path).exit_code == 0
    rows = fetch(db_path, "SELECT client_ip, date_trunc('second', ts)::VARCHAR FROM requests ORDER BY client_ip")
    assert sorted(rows) == sorted((ip, "2026-11-20 10:00:00") for ip in ("10.0.0.1", "10.0.0.2", "1.2.3.4", "2001:db8::5", "2001:db8::6"))


def test_zstd_directories_globs_and_reingest(tmp_path, db_path, cli):
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    (logs / "a.log").write_text(good(3))
    (logs / "sub" / "b.log.zst").write_bytes(zstandard.ZstdCompressor().compress(good(4).encode()))
    (logs / "c.log.gz").write_bytes(gzip.compress(good(5).encode()))
    assert cli("ingest", logs, "--db", db_path).exit_code == 0
    assert fetch(db_path, "SELECT count(*) FROM requests") == [(12,)]
    assert cli("ingest", str(logs / "**" / "*.log*"), "--db", db_path).exit_code == 0
    assert fetch(db_path, "SELECT count(*) FROM requests") == [(12,)]
    missing = cli("ingest", str(tmp_path / "nope-*.log"), "--db", db_path)
    assert missing.exit_code == 2 and "Traceback" not in missing.output


def test_reingest_is_a_no_op_also_for_files_recorded_with_the_old_digest(tmp_path, db_path, cli):
    log = tmp_path / "a.log"
    log.write_text(good(3))
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    [(recorded, loaded_at)] = fetch(db_path, "SELECT content_hash, ingested_at FROM ingested_files")
    assert recorded.startswith("sha256:")
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    assert fetch(db_path, "SELECT content_hash, ingested_at FROM ingested_files") == [(recorded, loaded_at)]
    # A database written before the switch to sha256 holds bare blake2b digests: same content, still no reload.
    legacy = hashlib.blake2b(log.read_bytes(), digest_size=16).hexdigest()
    with duckdb.connect(str(db_path)) as con:
        con.execute("UPDATE ingested_files SET content_hash = ?", [legacy])
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    assert fetch(db_path, "SELECT content_hash, ingested_at FROM ingested_files") == [(legacy, loaded_at)]
    log.write_text(good(4))
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    assert fetch(db_path, "SELECT count(*), max(content_hash) LIKE 'sha256:%' FROM ingested_files") == [(1, True)]
    assert fetch(db_path, "SELECT count(*) FROM requests") == [(4,)]


def test_a_file_of_many_batches_leaves_no_working_memory_behind(tmp_path):
    # Each batch's working tables stayed in DuckDB's memory after they were replaced, so a big file grew the
    # process with every batch (60 MB per million extras lines). Ingest now releases them after each batch.
    cfg = Config.model_validate({"database": {"path": str(tmp_path / "gw.duckdb"), "memory_limit": "512MB"},
                                 "ingest": {"chunk_mb": 1}})
    path = tmp_path / "day.log"
    path.write_text(good(50) * 600)  # ~2.5 MB: three batches
    con = connect(cfg.database)
    configured = con.execute("SELECT current_setting('memory_limit')").fetchone()
    [result] = Ingestor(con, cfg, ParserOptions(), "nginx").ingest([str(path)])
    assert result.accepted == 30_000
    held = con.execute("SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'").fetchone()[0]
    assert held < 1 << 20, f"{held} bytes of working tables left in memory"
    assert con.execute("SELECT current_setting('memory_limit')").fetchone() == configured


def test_requests_keep_the_order_of_the_file_through_batches_stored_in_the_background(tmp_path):
    # Rows are stored in file order (req_key = rowid breaks ties of time in the detectors): an INSERT scanning more
    # than one row group in parallel wrote them out of order, differently from run to run. Batches of 1 MB are
    # stored while the next one is parsed; the last file has two row groups in one batch.
    small = tmp_path / "small.log"
    small.write_text(good(50) * 1_200)  # 60k lines, 5 MB: six batches
    big = tmp_path / "big.log"
    big.write_text(good(50) * 5_000)  # 250k lines, 21 MB: a single batch below
    for path, chunk_mb in ((small, 1), (big, 64)):
        cfg = Config.model_validate({"database": {"path": str(tmp_path / f"{path.stem}.duckdb")},
                                     "ingest": {"chunk_mb": chunk_mb}})
        con = connect(cfg.database)
        [result] = Ingestor(con, cfg, ParserOptions(), "nginx").ingest([str(path)])
        assert result.accepted == result.lines == len(path.read_text().splitlines())
        out_of_order = con.execute("SELECT count(*) FILTER (rowid <> source_line - 1) FROM requests").fetchone()[0]
        assert out_of_order == 0
        con.close()
