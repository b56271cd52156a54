"""`gatewarden prune`: drop old raw requests, keep the daily aggregates that baselines need."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gatewarden.cli.common import ConfigOption, DbOption, QuietOption, handles_errors, load, out
from gatewarden.db import connect
from gatewarden.errors import UsageError
from gatewarden.ops.lock import RunLock
from gatewarden.ops.state import prune

KeepDaysOption = Annotated[
    int | None,
    typer.Option("--keep-days", min=1, help="Keep raw requests of the newest N days of data [default: operations.keep_days]."),
]


def register(app: typer.Typer) -> None:
    @app.command("prune")
    @handles_errors
    def prune_cmd(keep_days: KeepDaysOption = None,
                  dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be deleted; delete nothing.")] = False,
                  db: DbOption = None, config: ConfigOption = None, quiet: QuietOption = False) -> None:
        """Delete raw requests older than N days before the newest day in the data.

        Days about to be deleted are summarised into the daily aggregates first (entity_daily), so
        baselines, reports and `what changed` keep working. Findings and decisions are kept.

        Example: gatewarden prune --keep-days 14
        """
        cfg = load(config, db)
        days = keep_days or cfg.operations.keep_days
        if days is None:
            raise UsageError("No retention given.", "Pass --keep-days N or set operations.keep_days in the config.")
        with RunLock(Path(cfg.database.path), "prune"):
            con = connect(cfg.database)
            try:
                result = prune(con, cfg, days, dry_run=dry_run)
            finally:
                con.close()
        if quiet:
            return
        if result.cutoff is None:
            out.print("the database holds no requests; nothing to prune")
            return
        verb = "would delete" if dry_run else "deleted"
        summarised = f"; {len(result.days_summarised)} day(s) summarised first" if result.days_summarised else ""
        out.print(f"{verb} {result.requests_deleted:,} requests before {result.cutoff}{summarised}")
