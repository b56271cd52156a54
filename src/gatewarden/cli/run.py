"""`gatewarden run`: the cron entry point, ingest + analyze + decide + emit in one locked run."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from gatewarden.cli.analyze import DayOption, WindowOption, run_analyze, summary_table
from gatewarden.cli.common import ConfigOption, DbOption, QuietOption, err, handles_errors, load, out
from gatewarden.cli.decide import OutOption, decisions_table
from gatewarden.cli.ingest import FormatOption, LogFormatOption, MapOption, MaxRejectOption, parse_map, results_table, run_ingest
from gatewarden.db import connect
from gatewarden.decisions.engine import run_decisions
from gatewarden.errors import GatewardenError
from gatewarden.ops.lock import RunLock
from gatewarden.ops.runlog import LogFormat, RunLog
from gatewarden.ops.state import prune, record_day
from gatewarden.reports import write_reports


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
    ) -> None:
        """Ingest logs, analyse the window, decide, and write decisions.json, rate_limits.json and gateway files.

        Exit codes: 0 ok, 1 error, 2 usage, 3 safety valve tripped (nothing written, previous files kept),
        4 another run holds the database.

        Example (cron): gatewarden run /var/log/nginx/access.log-$(date +%F).gz --out /etc/nginx/gatewarden-out
        """
        cfg = load(config, db)
        if max_reject_ratio is not None:
            cfg = cfg.model_copy(update={"ingest": cfg.ingest.model_copy(update={"max_reject_ratio": max_reject_ratio})})
        runlog = RunLog(log, quiet)
        with RunLock(cfg.database.path, "run") as lock:
            if lock.stale:
                runlog.event("lock", "took_over", previous_pid=lock.stale.pid, previous_started=lock.stale.started)
            with runlog.stage("ingest") as counts:
                results = run_ingest(cfg, paths, fmt, log_format, parse_map(field_map), quiet)
                counts.update(files=len(results), lines=sum(r.lines for r in results), accepted=sum(r.accepted for r in results),
                              rejected=sum(r.rejected for r in results))
                if results and all(r.accepted == 0 and r.status != "unchanged" for r in results):
                    raise GatewardenError("No input line was accepted; nothing to analyse.", "See `gatewarden rejects` for why.")
            with runlog.stage("analyze") as counts:
                analysis = run_analyze(cfg, window, day, None)
                counts.update(requests=analysis.requests, findings=sum(analysis.findings_by_detector.values()))
            con = connect(cfg.database)
            try:
                with runlog.stage("decide") as counts:
                    result = run_decisions(con, cfg, analysis.window, out_dir)
                    counts.update(files=len(result.files))
                with runlog.stage("state") as counts:
                    last_day = (analysis.window.end - timedelta(microseconds=1)).date()
                    counts["entities"] = record_day(con, cfg, last_day)
                with runlog.stage("report") as counts:
                    counts.update(write_reports(con, cfg, analysis.window, out_dir))
                retention = keep_days or cfg.operations.keep_days
                if retention:
                    with runlog.stage("prune") as counts:
                        pruned = prune(con, cfg, retention)
                        counts.update(requests_deleted=pruned.requests_deleted, cutoff=str(pruned.cutoff))
            finally:
                con.close()
        if not quiet:
            out.print(results_table(results))
            out.print(summary_table(analysis))
            out.print(decisions_table(result))
            out.print(f"wrote {len(result.files)} files to {out_dir}")
        for r in results:
            for problem in r.problems:
                err.print(f"[yellow]warning:[/] {r.path}: {problem}")
