"""`make demo` / `make eval`: the nightly job on sample_logs/, end to end, through the real CLI.

    python -m gatewarden.demo --out demo            # import ASNs, run, evaluate, print where things are
    python -m gatewarden.demo --out demo --eval-only  # (re)score an existing demo database

The demo needs a token-hashing key like any real deployment: it uses GATEWARDEN_TOKEN_KEY when set,
else creates `<out>/token.key` once (mode 0600) and points GATEWARDEN_TOKEN_KEY_FILE at it.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from gatewarden import replay

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_logs"
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def gatewarden(*args: str | Path) -> None:
    command = [sys.executable, "-m", "gatewarden", *map(str, args)]
    console.print(f"[dim]$ gatewarden {' '.join(map(str, args))}[/]")
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        sys.exit(done.returncode)


def ensure_key(out: Path) -> None:
    if os.environ.get("GATEWARDEN_TOKEN_KEY") or os.environ.get("GATEWARDEN_TOKEN_KEY_FILE"):
        return
    key = out / "token.key"
    if not key.exists():
        key.write_text(secrets.token_hex(32) + "\n")
        key.chmod(0o600)
    os.environ["GATEWARDEN_TOKEN_KEY_FILE"] = str(key)


def replay_table(db: Path, decisions: Path, labels: list[Path]) -> Table:
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        results = replay.evaluate(con, decisions, labels)
    finally:
        con.close()
    summary = replay.summary(results)
    table = Table(title="gateway replay of decisions.json: share of each scenario's requests stopped by block/challenge, and "
                  f"including requests throttles reject; benign overall {summary['benign_share']:.3%} "
                  f"({summary['benign_limited_share']:.3%} with throttling)", title_justify="left")
    for col in ("scenario", "kind", "requests", "stopped", "share", "incl. throttling", "acceptance"):
        table.add_column(col, justify="left" if col in ("scenario", "kind") else "right")
    for r in results:
        share = summary["attacks"][r["scenario"]] if r["is_attack"] else r["stopped_share"]
        ok = share >= 0.95 if r["is_attack"] else r["stopped"] == 0
        table.add_row(r["scenario"], "attack" if r["is_attack"] else "benign", f"{r['requests']:,}", f"{r['stopped']:,}",
                      f"{r['stopped_share']:.1%}", f"{r['limited_share']:.1%}", f"[{'green' if ok else 'red'}]{share:.1%}[/]")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("demo"))
    parser.add_argument("--eval-only", action="store_true", help="score an existing demo database (runs the demo first if missing)")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    ensure_key(out)
    db = out / "gatewarden.duckdb"
    outputs = out / "out"
    logs = sorted(SAMPLES.glob("requests-*.jsonl.gz"))
    labels = sorted(SAMPLES.glob("labels-*.csv.gz"))
    if not args.eval_only or not db.exists():
        for stale in (db, db.with_name(db.name + ".wal")):
            stale.unlink(missing_ok=True)
        gatewarden("asn", "import", SAMPLES / "asn-ranges.tsv", "--db", db)
        gatewarden("run", *logs, "--db", db, "--out", outputs)
    gatewarden("eval", "--labels", labels[-1], "--db", db)
    console.print(replay_table(db, outputs / "decisions.json", labels))
    console.print(f"\n[bold]report:[/] {outputs / 'report.html'}")
    console.print(f"[bold]decisions:[/] {outputs / 'decisions.json'}   [bold]rate limits:[/] {outputs / 'rate_limits.json'}")
    console.print(f"[bold]database:[/] {db}   try: gatewarden explain <ip|token|asn> --db {db}")


if __name__ == "__main__":
    main()
