"""`gatewarden eval`: how well the detectors find the planted attacks of a labelled (generated) day."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from gatewarden.analyze import analyze
from gatewarden.cli.common import ConfigOption, DbOption, handles_errors, load, out
from gatewarden.db import connect, scalar
from gatewarden.detectors.base import Window
from gatewarden.errors import GatewardenError
from gatewarden.evaluate import evaluate, load_labels, report_table


def register(app: typer.Typer) -> None:
    @app.command("eval")
    @handles_errors
    def eval_cmd(
        labels: Annotated[Path, typer.Option("--labels", "-l", help="Ground truth: labels-YYYY-MM-DD.csv.gz from the generator.")],
        day: Annotated[datetime | None, typer.Option("--day", formats=["%Y-%m-%d"],
                                                      help="Day to score (UTC) [default: the newest labelled day].")] = None,
        reanalyze: Annotated[bool, typer.Option("--reanalyze/--reuse", help="Run the detectors again first, or reuse "
                                                "stored findings of that day when there are any.")] = False,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Score the detectors against ground-truth labels: per attack scenario the share of its requests and
        entities found (by the detector meant for it and by any), per benign group the share flagged at high severity.

        A request counts as found when a finding's `match` selects it, exactly as a gateway would.

        Example: gatewarden eval --labels sample_logs/labels-2026-11-20.csv.gz --db demo/gw.duckdb
        """
        cfg = load(config, db)
        con = connect(cfg.database)
        try:
            if day is None:
                load_labels(con, labels)
                newest = scalar(con, "SELECT max(ts) FROM gw_labels")
                if newest is None:
                    raise GatewardenError(f"No request of {labels} is in the database {cfg.database.path}.",
                                          "Ingest the log file the labels belong to first: `gatewarden ingest FILE`.")
                day = datetime.combine(newest.date(), datetime.min.time())
            window = Window(day, day + timedelta(days=1))
            stored = scalar(con, "SELECT count(*) FROM analysis_runs WHERE window_start = ? AND window_end = ?",
                            [window.start, window.end])
            if reanalyze or not stored:
                analyze(con, cfg, window)
            report = evaluate(con, labels, window)
        finally:
            con.close()
        out.print(report_table(report))
