"""`make bench`: gatewarden's ingest and full run against DuckDB's own parsing speed and GoAccess.

For each size and log layout it writes an nginx log (cached in bench/work), then, rep by rep and
interleaved so background load hits every tool alike, runs as separate processes:

  baseline   DuckDB parsing every field with one regexp_extract and counting (bench/baseline.py)
  ingest     `gatewarden ingest` into a fresh database
  run        `gatewarden run` (ingest + detectors + decisions + outputs + report), with its stage log
  goaccess   GoAccess 1.7 on the same file, when installed (the peer tool)

It prints medians, lines/s, ratios and peak memory, checks the targets from the issue, and writes
the same to bench/results/<date>-<commit>.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from loggen import FORMATS, log_path
from measure import Measured, run_measured
from report import check_targets, machine, print_results

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BIN = Path(sys.executable).parent
GATEWARDEN = str(BIN / "gatewarden")
BENCH_KEY = "gatewarden-bench-key-0123456789abcdef"  # not a secret: only hashes the synthetic keys
GOACCESS_FORMATS = {  # GoAccess spelling of the same layouts; %^ skips the fields it has no use for
    "combined": ["--log-format=COMBINED"],
    "extras": ['--log-format=%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %T %^', "--date-format=%d/%b/%Y", "--time-format=%T"],
}


@dataclass
class Sample:
    seconds: float
    peak_rss: int
    stages: dict[str, float] = field(default_factory=dict)


@dataclass
class Result:
    tool: str
    size: int
    layout: str
    lines: int = 0
    samples: list[Sample] = field(default_factory=list)
    note: str = ""

    @property
    def seconds(self) -> float | None:
        return statistics.median(s.seconds for s in self.samples) if self.samples else None

    @property
    def peak_rss(self) -> int | None:
        return max(s.peak_rss for s in self.samples) if self.samples else None

    @property
    def stages(self) -> dict[str, float]:
        names = {k for s in self.samples for k in s.stages}
        return {k: statistics.median(s.stages.get(k, 0.0) for s in self.samples) for k in sorted(names)}


def parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("KM")) * scale)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWARDEN_")}
    env["GATEWARDEN_TOKEN_KEY"] = BENCH_KEY
    return env


def _fail(tool: str, m: Measured) -> str:
    tail = (m.stderr.strip() or m.stdout.strip()).splitlines()[-3:]
    return f"{tool} exited {m.returncode}: {' | '.join(tail)}"


def _fresh(db: Path) -> None:
    for p in db.parent.glob(db.name + "*"):
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def _ingested_lines(db: Path) -> int:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute("SELECT coalesce(sum(accepted), 0) FROM ingested_files").fetchall()[0][0])
    finally:
        con.close()


def _stage_log(text: str) -> dict[str, float]:
    """Durations from `--log json` lines ({"stage": ..., "duration_s": ...}); other output is ignored."""
    stages: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "stage" in record and "duration_s" in record:
            stages[record["stage"]] = stages.get(record["stage"], 0.0) + float(record["duration_s"])
    return stages


def _help(command: str) -> str | None:
    done = subprocess.run([GATEWARDEN, command, "--help"], capture_output=True, text=True, env=_env())
    return done.stdout if done.returncode == 0 else None


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.work = Path(args.workdir)
        self.run_help = _help("run")
        self.goaccess = shutil.which("goaccess")

    def gatewarden_args(self, layout: str) -> list[str]:
        args = ["--format", "nginx", "--quiet"]
        return args if layout == "combined" else [*args, "--log-format", FORMATS[layout]]

    def baseline(self, log: Path, layout: str, r: Result) -> None:
        m = run_measured([sys.executable, str(BENCH / "baseline.py"), str(log), "--format", layout])
        if m.returncode:
            r.note = _fail("baseline", m)
            return
        out = json.loads(m.stdout)
        r.lines = out["lines"]
        r.samples.append(Sample(m.seconds, m.peak_rss, {"query": out["seconds"]}))

    def ingest(self, log: Path, layout: str, r: Result) -> None:
        db = self.work / "db" / "ingest.duckdb"
        _fresh(db)
        m = run_measured([GATEWARDEN, "ingest", str(log), "--db", str(db), *self.gatewarden_args(layout)], env=_env())
        if m.returncode:
            r.note = _fail("ingest", m)
            return
        r.lines = _ingested_lines(db)
        r.samples.append(Sample(m.seconds, m.peak_rss, {"ingest": m.seconds}))

    def run(self, log: Path, layout: str, r: Result) -> None:
        if self.run_help is None:
            r.note = "not available yet"
            return
        db, out = self.work / "db" / "run.duckdb", self.work / "run-out"
        _fresh(db)
        shutil.rmtree(out, ignore_errors=True)
        extra = ["--log", "json"] if "--log " in self.run_help or "--log\n" in self.run_help else []
        argv = [GATEWARDEN, "run", str(log), "--db", str(db), "--out", str(out), *self.gatewarden_args(layout), *extra]
        m = run_measured(argv, env=_env())
        if m.returncode not in (0, 3):  # 3 = safety valve held the outputs back; the work was still done
            r.note = _fail("run", m)
            return
        r.lines = _ingested_lines(db)
        r.samples.append(Sample(m.seconds, m.peak_rss, _stage_log(m.stderr + "\n" + m.stdout)))
        if not extra:
            r.note = "no --log json yet: total time only"

    def goaccess_run(self, log: Path, layout: str, r: Result) -> None:
        if not self.goaccess:
            r.note = "goaccess not installed (apt-get install goaccess)"
            return
        report = self.work / "goaccess.json"
        m = run_measured([self.goaccess, str(log), *GOACCESS_FORMATS[layout], "-o", str(report), "--no-progress",
                          "--no-global-config"])
        if m.returncode:
            r.note = _fail("goaccess", m)
            return
        r.lines = json.loads(report.read_text())["general"]["valid_requests"]
        r.samples.append(Sample(m.seconds, m.peak_rss))

    def measure(self, size: int, layout: str) -> list[Result]:
        log = log_path(self.work, size, layout)
        tools = {"baseline": self.baseline, "ingest": self.ingest, "run": self.run, "goaccess": self.goaccess_run}
        results = {name: Result(name, size, layout) for name in tools}
        reps = self.args.reps if size < 5_000_000 else self.args.reps_large
        for rep in range(reps):
            for name, tool in tools.items():
                if results[name].note or (name == "goaccess" and rep >= self.args.goaccess_reps):
                    continue
                print(f"  {size:,} {layout} rep {rep + 1}/{reps}: {name}", file=sys.stderr, flush=True)
                tool(log, layout, results[name])
        if not self.args.keep:
            log.unlink(missing_ok=True)
        return list(results.values())


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description="Benchmark gatewarden ingest/run against DuckDB and GoAccess.")
    ap.add_argument("--sizes", default="1M,10M", help="comma-separated line counts, e.g. 1M,10M or 200k")
    ap.add_argument("--layouts", default=",".join(FORMATS), help=f"log layouts: {', '.join(FORMATS)}")
    ap.add_argument("--quick", action="store_true", help="200k lines, 1 rep: a development smoke run")
    ap.add_argument("--reps", type=int, default=3, help="repetitions below 5M lines (median reported)")
    ap.add_argument("--reps-large", type=int, default=1, help="repetitions at 5M lines and above")
    ap.add_argument("--goaccess-reps", type=int, default=1, help="GoAccess repetitions (it is the slow peer)")
    ap.add_argument("--keep", action="store_true", help="keep the generated logs in --workdir for the next run")
    ap.add_argument("--workdir", default=str(BENCH / "work"))
    ap.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.reps, args.reps_large = "200k", 1, 1
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    layouts = [s.strip() for s in args.layouts.split(",")]
    bench = Bench(args)
    results = [r for size in sizes for layout in layouts for r in bench.measure(size, layout)]
    targets = check_targets(results)
    command = "python bench/run.py " + " ".join(sys.argv[1:])
    print_results(results, targets, command)
    if not args.no_save:
        stamp = datetime.now(UTC)
        path = BENCH / "results" / f"{stamp:%Y-%m-%d}-{_commit()}.json"
        path.parent.mkdir(exist_ok=True)
        payload = {"date": stamp.isoformat(timespec="seconds"), "commit": _commit(), "command": command,
                   "machine": machine(), "results": [_result_json(r) for r in results], "targets": targets}
        path.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {path.relative_to(REPO)}", file=sys.stderr)


def _result_json(r: Result) -> dict:
    return {"tool": r.tool, "size": r.size, "layout": r.layout, "lines": r.lines, "median_s": r.seconds,
            "lines_per_s": r.lines / r.seconds if r.seconds and r.lines else None, "peak_rss_bytes": r.peak_rss,
            "stages_median_s": r.stages, "samples": [asdict(s) for s in r.samples], "note": r.note}


if __name__ == "__main__":
    main()
