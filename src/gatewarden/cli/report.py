"""`gatewarden report`: HTML, Markdown and JSON reports plus customer notices for one analysed day."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from gatewarden.analyze import parse_duration, resolve_window
from gatewarden.cli.common import ConfigOption, DbOption, QuietOption, handles_errors, load, out
from gatewarden.db import connect
from gatewarden.ops.lock import RunLock
from gatewarden.reports import write_reports


def register(app: typer.Typer) -> None:
    @app.command("report")
    @handles_errors
    def report_cmd(
        out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory for report.html, summary.md, summary.json, "
                                               "notices.csv and notices.json.")],
        day: Annotated[datetime | None, typer.Option("--day", formats=["%Y-%m-%d"],
                                                      help="Day to report (UTC) [default: the newest day in the data].")] = None,
        window: Annotated[str, typer.Option("--window", "-w", help="Window length, as analysed.")] = "24h",
        db: DbOption = None, config: ConfigOption = None, quiet: QuietOption = False,
    ) -> None:
        """Write the night's reports from what the database holds (findings, decisions, history).

        The HTML report is one self-contained file (inline SVG charts, no network). Sections whose
        data is absent (no GraphQL traffic, no decisions yet) say so instead of failing.

        Example: gatewarden report --out /srv/gatewarden/2026-11-21
        """
        cfg = load(config, db)
        with RunLock(Path(cfg.database.path), "report"):
            con = connect(cfg.database)
            try:
                win = resolve_window(con, parse_duration(window), day.date() if day else None)
                counts = write_reports(con, cfg, win, out_dir)
            finally:
                con.close()
        if not quiet:
            out.print(f"wrote {out_dir}/report.html, summary.md, summary.json and {counts['notices']} notice(s); "
                      f"{counts['sections_with_data']}/{counts['sections']} sections have data")
