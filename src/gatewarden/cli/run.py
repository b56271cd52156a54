"""`gatewarden run`: the cron entry point, ingest + analyze + decide + emit in one locked run."""

from __future__ import annotations

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
    ) -> None:
        """Ingest logs, analyse the window, decide, and write decisions.json, rate_limits.json and gateway files.

        Exit codes: 0 ok, 1 error, 2 usage, 3 safety valve tripped (nothing written, previous files kept),
        4 another run holds the database.

        Example (cron): gatewarden run /var/log/nginx/access.log-$(date +%F).gz --out /etc/nginx/gatewarden-out
        """
        cfg = load(config, db)
        if max_reject_ratio is not None:
            cfg = cfg.model_copy(update={"ingest": cfg.ingest.model_copy(update={"max_reject_ratio": max_reject_ratio})})
        with RunLock(cfg.database.path, "run"):
            results = run_ingest(cfg, paths, fmt, log_format, parse_map(field_map), quiet)
            if results and all(r.accepted == 0 and r.status != "unchanged" for r in results):
                raise GatewardenError("No input line was accepted; nothing to analyse.", "See `gatewarden rejects` for why.")
            analysis = run_analyze(cfg, window, day, None)
            con = connect(cfg.database)
            try:
                result = run_decisions(con, cfg, analysis.window, out_dir)
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
