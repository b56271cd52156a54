"""Ingest every real log under /work/shared/data with the real CLI and check the accounting.

For each file: lines (a final line without newline counts), format chosen by `--format auto`,
accepted, rejected, and `ok` when accepted + rejected = lines. Then everything is ingested once
more, which must add 0 rows. Local check only: the data is not redistributable.

    .venv/bin/python scripts/check_real_logs.py [--shared /work/shared/data]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from gatewarden.cli.app import app
from gatewarden.sources import open_decompressed

CROWDSEC_TYPES = {"nginx", "apache2", "aws-alb"}
# Files that need more than --format auto, with the options the error message suggests.
EXTRA_ARGS = {
    "nginx_http-catch-npm.log": [
        "--log-format", "[$time_local] $host $remote_addr $request_time \"$request\" $status $body_bytes_sent $bytes_sent "
        "$http_referer $http_user_agent", "--max-reject-ratio", "0.5"],
    # Blank lines are counted rejects; in these 5-15 line fixtures one or two exceed the default 5% refusal.
    **{name: ["--max-reject-ratio", "0.5"] for name in ("apache_log4j2_cve-2021-44228.log", "http-bf-wordpress-bf.log",
                                                        "http-technology-probing.log", "http-wordpress_wpconfig.log")},
}


def real_logs(shared: Path) -> list[Path]:
    files = sorted((shared / "access-logs").rglob("*.gz")) + sorted((shared / "labelled-attacks" / "ocatak-apache-scans").glob("*.gz"))
    with open(shared / "crowdsec-hub-tests" / "INDEX.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["log_type"] in CROWDSEC_TYPES:
                files.append(shared / "crowdsec-hub-tests" / row["test_dir"] / row["log_file"])
    return files


def count_lines(path: Path) -> int:
    n, last = 0, b"\n"
    with open_decompressed(path) as f:
        while block := f.read(1 << 22):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def check(shared: Path, only: tuple[str, ...] = ("",)) -> list[dict]:
    runner = CliRunner()
    env = {**os.environ, "GATEWARDEN_TOKEN_KEY": os.environ.get("GATEWARDEN_TOKEN_KEY", "check-real-logs-key-0123456789")}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "real.duckdb"
        files = [f for f in real_logs(shared) if any(o in str(f.relative_to(shared)) for o in only)]
        for path in files:
            result = runner.invoke(app, ["ingest", str(path), "--db", str(db), "-q", *EXTRA_ARGS.get(path.name, [])], env=env)
            con = duckdb.connect(str(db), read_only=True)
            got = con.execute("SELECT format, lines, accepted, rejected FROM ingested_files WHERE source_file = ?",
                              [str(path.resolve())]).fetchall()
            con.close()
            fmt, lines, accepted, rejected = got[0] if got else ("-", 0, 0, 0)
            expected = count_lines(path)
            ok = result.exit_code == 0 and lines == expected and accepted + rejected == expected
            rows.append({"file": str(path.relative_to(shared)), "format": fmt, "lines": expected, "accepted": accepted,
                         "rejected": rejected, "check": "ok" if ok else f"FAIL (exit {result.exit_code}) {result.output[-300:]}"})
        con = duckdb.connect(str(db), read_only=True)
        before = con.execute("SELECT count(*) FROM requests").fetchall()[0][0]
        con.close()
        for path in files:
            runner.invoke(app, ["ingest", str(path), "--db", str(db), "-q", *EXTRA_ARGS.get(path.name, [])], env=env)
        con = duckdb.connect(str(db), read_only=True)
        after = con.execute("SELECT count(*) FROM requests").fetchall()[0][0]
        con.close()
        rows.append({"file": "(re-ingest of all files)", "format": "", "lines": before, "accepted": after - before, "rejected": 0,
                     "check": "ok" if after == before else "FAIL: rows added"})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    if not (args.shared / "access-logs").is_dir():
        print(f"{args.shared} not found: nothing to check", file=sys.stderr)
        return 2
    rows = check(args.shared)
    width = max(len(r["file"]) for r in rows)
    print(f"{'file':<{width}}  {'format':<12} {'lines':>7} {'accepted':>8} {'rejected':>8}  check")
    for r in rows:
        print(f"{r['file']:<{width}}  {r['format']:<12} {r['lines']:>7} {r['accepted']:>8} {r['rejected']:>8}  {r['check']}")
    return 0 if all(r["check"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
