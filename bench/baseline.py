"""The yardstick: DuckDB alone parsing every field of each line with one regexp_extract, and counting.

This is what the issue measured (~3.1 s per 1M combined lines on 2 cores): the cost of reading
and regex-splitting the file with nothing else. gatewarden's ingest is judged as a ratio to it.
Run as a script so the benchmark can time it and watch its memory like any other process:

    python bench/baseline.py FILE --format combined
"""

from __future__ import annotations

import argparse
import json
import time

import duckdb

_COMBINED = r'^(\S+) \S+ (\S+) \[([^\]]+)\] "(\S+) (\S+) ([^"]*)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"'
_COMBINED_NAMES = ["ip", "user", "time", "method", "path", "proto", "status", "bytes", "referer", "ua"]
PATTERNS = {
    "combined": (_COMBINED, _COMBINED_NAMES),
    "extras": (_COMBINED + r' (\S+) "([^"]*)" "([^"]*)" "([^"]*)"', [*_COMBINED_NAMES, "rt", "key", "ja4", "session"]),
}


def baseline_sql(path: str, fmt: str) -> str:
    pattern, names = PATTERNS[fmt]
    fields = ", ".join(f"'{n}'" for n in names)
    # One VARCHAR column per line: no delimiter or quote can split it (the delimiter is a byte logs never hold).
    source = (f"read_csv('{path}', columns={{'line': 'VARCHAR'}}, header=false, delim='\\x01', quote='', escape='', "
              "auto_detect=false, strict_mode=false)")
    return (f"SELECT count(*), count(*) FILTER (WHERE m.ip = '') FROM "
            f"(SELECT regexp_extract(line, '{pattern}', [{fields}]) AS m FROM {source})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--format", choices=sorted(PATTERNS), default="combined")
    ap.add_argument("--threads", type=int, default=0, help="DuckDB threads (default: all cores)")
    args = ap.parse_args()
    con = duckdb.connect(config={"threads": args.threads} if args.threads else {})
    started = time.perf_counter()
    lines, unmatched = con.execute(baseline_sql(args.file, args.format)).fetchall()[0]
    print(json.dumps({"seconds": time.perf_counter() - started, "lines": lines, "unmatched": unmatched}))


if __name__ == "__main__":
    main()
