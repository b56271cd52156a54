"""`gatewarden decide`: decisions and gateway files from the findings already in the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gatewarden.cli.common import ConfigOption, DbOption, QuietOption, handles_errors, load, out
from gatewarden.config import Config
from gatewarden.db import connect
from gatewarden.decisions.engine import DecideResult, latest_window, run_decisions
from gatewarden.decisions.policy import strongest_first
from gatewarden.ops.lock import RunLock

OutOption = Annotated[Path, typer.Option("--out", "-o", help="Directory for decisions.json, rate_limits.json and gateway files.")]


def run_decide(cfg: Config, out_dir: Path) -> DecideResult:
    con = connect(cfg.database)
    try:
        return run_decisions(con, cfg, latest_window(con), out_dir)
    finally:
        con.close()


def decisions_table(result: DecideResult, top: int = 20) -> Table:
    active = [d for d in result.decisions if d.status == "active"]
    counts = {a: sum(d.action == a for d in active) for a in ("block", "challenge", "throttle")}
    table = Table(title=f"decisions {result.window.start:%Y-%m-%d %H:%M} .. {result.window.end:%Y-%m-%d %H:%M} UTC: "
                        + ", ".join(f"{n:,} {a}" for a, n in counts.items())
                        + f"; clean traffic stopped {result.impact.request_share:.3%}", title_justify="left")
    for col in ("action", "scope", "value", "detectors", "requests", "expires", "offence"):
        table.add_column(col, justify="right" if col in ("requests", "offence") else "left")
    for d in strongest_first(active)[:top]:
        table.add_row(d.action, d.scope, d.value[:48], ", ".join(d.detectors), f"{d.requests or 0:,}",
                      f"{d.expires_at:%Y-%m-%d %H:%M}", str(d.offence_count))
    return table


def register(app: typer.Typer) -> None:
    @app.command("decide")
    @handles_errors
    def decide_cmd(out_dir: OutOption, db: DbOption = None, config: ConfigOption = None, quiet: QuietOption = False) -> None:
        """Turn the latest window's findings into decisions and write every gateway file to --out.

        Exits 3 without writing anything when the decisions would stop more clean traffic than
        decisions.safety_max_clean_share allows (the previous files stay in place).

        Example: gatewarden decide --out /var/lib/gatewarden/out
        """
        cfg = load(config, db)
        with RunLock(cfg.database.path, "decide"):
            result = run_decide(cfg, out_dir)
        if not quiet:
            out.print(decisions_table(result))
            out.print(f"wrote {len(result.files)} files to {out_dir}")
