"""Where a gatewarden command spends its time, statement by statement.

Runs the real CLI in this process with every DuckDB statement timed (wall seconds, and the process's
CPU seconds meanwhile: about 2 on two cores for a statement that keeps both busy, about 1 for one that
does not), then prints the statements that took longest, grouped by their opening text:

    python bench/profile.py --top 25 -- run bench/work/nginx-combined-1000000-s7.log --db /tmp/p.duckdb --out /tmp/p

Statements of ingest's two lanes overlap, so their CPU figures share the same seconds. `--explain TEXT`
runs the first statement starting with TEXT under EXPLAIN ANALYZE instead and writes its plan to a file.
"""

from __future__ import annotations

import argparse
import atexit
import re
import sys
import time
from pathlib import Path

import duckdb

_connect = duckdb.connect


class TimedConnection:
    """A DuckDB connection whose statements are timed into `profile`; everything else passes through."""

    def __init__(self, con: duckdb.DuckDBPyConnection, profile: Profile):
        object.__setattr__(self, "_con", con)
        object.__setattr__(self, "_profile", profile)

    def execute(self, sql: str, *args, **kwargs):
        profile: Profile = self._profile
        started, cpu = time.perf_counter(), time.process_time()
        if profile.wants_plan(sql):
            plan = self._con.execute("EXPLAIN ANALYZE " + sql, *args, **kwargs).fetchall()
            profile.plan_file.write_text(plan[0][1])
            result = self._con
        else:
            result = self._con.execute(sql, *args, **kwargs)
        profile.record(sql, time.perf_counter() - started, time.process_time() - cpu)
        return result

    def sql(self, sql: str, *args, **kwargs) -> TimedRelation:
        return TimedRelation(self._con.sql(sql, *args, **kwargs), sql, self._profile)

    def cursor(self) -> TimedConnection:
        return TimedConnection(self._con.cursor(), self._profile)

    def __getattr__(self, name: str):
        return getattr(self._con, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._con, name, value)

    def __enter__(self) -> TimedConnection:
        return self

    def __exit__(self, *exc) -> None:
        self._con.__exit__(*exc)


class TimedRelation:
    """A lazy relation from `con.sql`: the query runs when a result is asked for, so that call is what is timed."""

    RESULTS = frozenset({"to_arrow_table", "fetchall", "fetchone", "df", "pl", "arrow", "execute"})

    def __init__(self, relation: duckdb.DuckDBPyRelation, sql: str, profile: Profile):
        self._relation, self._sql, self._profile = relation, sql, profile

    def __getattr__(self, name: str):
        attr = getattr(self._relation, name)
        if name not in self.RESULTS:
            return attr

        def timed(*args, **kwargs):
            started, cpu = time.perf_counter(), time.process_time()
            result = attr(*args, **kwargs)
            self._profile.record(self._sql, time.perf_counter() - started, time.process_time() - cpu)
            return result
        return timed


class Profile:
    def __init__(self, explain: str | None, plan_file: Path):
        self.explain = explain
        self.plan_file = plan_file
        self.statements: dict[str, list[float]] = {}  # opening text -> [count, wall, cpu]
        self.started = time.perf_counter()

    @staticmethod
    def opening(sql: str) -> str:
        return re.sub(r"\s+", " ", sql.strip())[:110]

    def wants_plan(self, sql: str) -> bool:
        if self.explain and self.opening(sql).startswith(self.explain):
            self.explain = None
            return True
        return False

    def record(self, sql: str, wall: float, cpu: float) -> None:
        entry = self.statements.setdefault(self.opening(sql), [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += wall
        entry[2] += cpu

    def print(self, top: int) -> None:
        total = sum(e[1] for e in self.statements.values())
        out = sys.stderr
        print(f"\n{sum(int(e[0]) for e in self.statements.values())} statements, {total:.2f} s in DuckDB; "
              f"process: {time.perf_counter() - self.started:.2f} s wall, {time.process_time():.2f} s CPU", file=out)
        print(f"{'wall s':>8} {'cpu s':>7} {'calls':>5}  statement", file=out)
        for text, (calls, wall, cpu) in sorted(self.statements.items(), key=lambda kv: -kv[1][1])[:top]:
            print(f"{wall:8.2f} {cpu:7.2f} {int(calls):5d}  {text}", file=out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=30, help="statements to print (default 30)")
    ap.add_argument("--explain", metavar="TEXT", help="EXPLAIN ANALYZE the first statement starting with TEXT")
    ap.add_argument("--plan-file", type=Path, default=Path("bench/work/plan.txt"), help="where --explain writes")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="gatewarden's arguments, after --")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    profile = Profile(args.explain, args.plan_file)
    if args.explain:
        args.plan_file.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect = lambda *a, **k: TimedConnection(_connect(*a, **k), profile)
    atexit.register(profile.print, args.top)
    from gatewarden.cli.app import main as gatewarden

    sys.argv = ["gatewarden", *command]
    gatewarden()


if __name__ == "__main__":
    main()
