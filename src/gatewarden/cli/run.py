"""`gatewarden run`: the cron entry point, ingest + analyze + decide + emit in one locked run."""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gatewarden.cli.analyze import DayOption, WindowOption, run_analyze, summary_table
from gatewarden.cli.common import ConfigOption, DbOption, QuietOption, err, handles_errors, load, out
from gatewarden.cli.decide import OutOption, decisions_table
from gatewarden.cli.ingest import FormatOption, LogFormatOption, MapOption, MaxRejectOption, parse_map, results_table, run_ingest
from gatewarden.config import Config
from gatewarden.db import connect
from gatewarden.decisions.engine import run_decisions
from gatewarden.errors import GatewardenError
from gatewarden.ops.lock import RunLock
from gatewarden.ops.runlog import LogFormat, RunLog
from gatewarden.ops.state import prune, record_day
from gatewarden.reports import write_reports


@contextmanager
def throwaway_copy(cfg: Config, out_dir: Path) -> Iterator[tuple[Config, Path]]:
    """A copy of the database (with its WAL) and an output directory in a temp dir removed afterwards.

    Why a copy and not a rolled-back transaction: ingest commits once per file and analyze, decide and the
    state stage commit on connections of their own, and the gateway files are written outside any database;
    a copy lets the real code run unchanged while the real database and --out stay untouched. It costs one
    file copy of the database (taken under the run lock, so nothing writes it meanwhile).
    """
    db_path = Path(cfg.database.path)
    with tempfile.TemporaryDirectory(prefix="gatewarden-dry-run-") as tmp:
        copy = Path(tmp) / db_path.name
        for suffix in ("", ".wal"):
            source = db_path.with_name(db_path.name + suffix)
            if source.exists():
                shutil.copy2(source, copy.with_name(copy.name + suffix))
        database = cfg.database.model_copy(update={"path": copy, "temp_directory": Path(tmp) / "spill"})
        yield cfg.model_copy(update={"database": database}), Path(tmp) / "out"


def would_write_table(staged: Path, out_dir: Path) -> Table:
    """What a real run would change in `out_dir`: each staged file as new, changed or unchanged."""
    table = Table(title=f"dry run: would write to {out_dir}", title_justify="left")
    for col, justify in (("file", "left"), ("bytes", "right"), ("compared with now", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for path in sorted(p for p in staged.rglob("*") if p.is_file()):
        rel = path.relative_to(staged)
        current = out_dir / rel
        state = "new" if not current.exists() else "unchanged" if filecmp.cmp(path, current, shallow=False) else "[yellow]changed[/]"
        table.add_row(str(rel), f"{path.stat().st_size:,}", state)
    return table


def register(app: typer.Typer) -> None:
    @app.command("run")
    @handles_errors
    def run_cmd(
        paths: Annotated[list[str], typer.Argument(help="Log files, directories or globs (gzip and zstd are read as is).")],
        out_dir: OutOption,
        fmt: FormatOption = "auto",
        log_format: LogFormatOption = None,
        field_map: MapOption = None,
        max_reject_ratio: MaxRejectOption = None,
        window: WindowOption = "24h",
        day: DayOption = None,
        db: DbOption = None,
        config: ConfigOption = None,
        quiet: QuietOption = False,
        log: Annotated[LogFormat, typer.Option("--log", help="Stage log lines on stderr: json (one object per stage) or text.")]
        = LogFormat.text,
        keep_days: Annotated[int | None, typer.Option("--keep-days", min=1, help="Afterwards delete raw requests older than N days "
                                                      "(daily aggregates are kept) [default: operations.keep_days].")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Compute everything on a throwaway copy of the database and "
                                              "show what would be written; change neither the database nor --out.")] = False,
    ) -> None:
        """Ingest logs, analyse the window, decide, and write decisions.json, rate_limits.json, gateway files and reports.

        Exit codes: 0 ok, 1 error, 2 usage, 3 safety valve tripped (nothing written, previous files kept),
        4 another run holds the database.

        Example (cron): gatewarden run /var/log/nginx/access.log-$(date +%F).gz --out /etc/nginx/gatewarden-out

        Example (what would tonight do?): gatewarden run access.log --out /etc/nginx/gatewarden-out --dry-run
        """
        cfg = load(config, db)
        if max_reject_ratio is not None:
            cfg = cfg.model_copy(update={"ingest": cfg.ingest.model_copy(update={"max_reject_ratio": max_reject_ratio})})
        runlog = RunLog(log, quiet, run={"dry_run": True} if dry_run else None, progress_console=err)
        with RunLock(cfg.database.path, "run") as lock:
            if lock.stale:
                runlog.event("lock", "took_over", previous_pid=lock.stale.pid, previous_started=lock.stale.started)
            with throwaway_copy(cfg, out_dir) if dry_run else nullcontext((cfg, out_dir)) as (run_cfg, run_out):
                with runlog.stage("ingest") as counts:
                    results = run_ingest(run_cfg, paths, fmt, log_format, parse_map(field_map), quiet)
                    counts.update(files=len(results), lines=sum(r.lines for r in results), accepted=sum(r.accepted for r in results),
                                  rejected=sum(r.rejected for r in results))
                    if results and all(r.accepted == 0 and r.status != "unchanged" for r in results):
                        raise GatewardenError("No input line was accepted; nothing to analyse.", "See `gatewarden rejects` for why.")
                # One connection from analysis to report: state and report reuse analysis's temp table `win`
                # (the window's features) instead of rebuilding it, the costliest step of the night.
                con = connect(run_cfg.database)
                try:
                    with runlog.stage("analyze", progress=True) as counts:
                        analysis = run_analyze(run_cfg, window, day, None, counts.step, con)
                        counts.update(requests=analysis.requests, findings=sum(analysis.findings_by_detector.values()))
                    with runlog.stage("decide", progress=True) as counts:
                        counts.step("decisions, rate limits and gateway files")
                        result = run_decisions(con, run_cfg, analysis.window, run_out, reuse_win=True)
                        counts.update(files=len(result.files))
                    with runlog.stage("state") as counts:
                        last_day = (analysis.window.end - timedelta(microseconds=1)).date()
                        counts["entities"] = record_day(con, run_cfg, last_day, analysis.window)
                    with runlog.stage("report", progress=True) as counts:
                        counts.update(write_reports(con, run_cfg, analysis.window, run_out, reuse_win=True, step=counts.step))
                    retention = keep_days or run_cfg.operations.keep_days
                    if retention:
                        with runlog.stage("prune") as counts:
                            pruned = prune(con, run_cfg, retention)
                            counts.update(requests_deleted=pruned.requests_deleted, cutoff=str(pruned.cutoff))
                finally:
                    con.close()
                staged = would_write_table(run_out, out_dir) if dry_run else None
        if not quiet:
            out.print(results_table(results))
            out.print(summary_table(analysis))
            out.print(decisions_table(result))
            if staged is not None:
                out.print(staged)
                out.print(f"dry run: nothing written; {cfg.database.path} and {out_dir} are unchanged", soft_wrap=True)
            else:
                out.print(f"wrote {len(result.files)} files to {out_dir}", soft_wrap=True)
                out.print(f"report: {Path(out_dir) / 'report.html'}", soft_wrap=True)
        for r in results:
            for problem in r.problems:
                err.print(f"[yellow]warning:[/] {r.path}: {problem}")
