"""`gatewarden diff`: what changed between the last two published decision runs."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from gatewarden.cli.common import ConfigOption, DbOption, handles_errors, load, out
from gatewarden.db import connect, dicts
from gatewarden.decisions.model import rank
from gatewarden.decisions.store import load as load_decisions
from gatewarden.errors import GatewardenError


def diff_runs(con) -> dict:
    runs = dicts(con, "SELECT decision_run, window_end FROM decision_runs WHERE outcome = 'written' ORDER BY window_end DESC LIMIT 2")
    if not runs:
        raise GatewardenError("No decisions have been made on this database yet.", "Run `gatewarden decide --out DIR` first.")
    now = {(d.scope, d.value): d for d in load_decisions(con, runs[0]["decision_run"])}
    before = {(d.scope, d.value): d for d in load_decisions(con, runs[1]["decision_run"])} if len(runs) > 1 else {}
    changes: dict[str, list[dict]] = {"new": [], "removed": [], "escalated": [], "relaxed": []}
    for key, d in sorted(now.items()):
        old = before.get(key)
        row = {"scope": d.scope, "value": d.value, "action": d.action, "offence_count": d.offence_count,
               "detectors": d.detectors}
        if old is None:
            changes["new"].append(row)
        elif rank(d.action) > rank(old.action) or d.offence_count > old.offence_count:
            changes["escalated"].append({**row, "was": old.action, "was_offence_count": old.offence_count})
        elif rank(d.action) < rank(old.action):
            changes["relaxed"].append({**row, "was": old.action})
    for key, d in sorted(before.items()):
        if key not in now:
            changes["removed"].append({"scope": d.scope, "value": d.value, "action": d.action})
    return {"from": str(runs[1]["window_end"]) if len(runs) > 1 else None, "to": str(runs[0]["window_end"]), **changes}


def register(app: typer.Typer) -> None:
    @app.command("diff")
    @handles_errors
    def diff_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print the changes as JSON.")] = False,
                 db: DbOption = None, config: ConfigOption = None) -> None:
        """Show new, removed, escalated and relaxed decisions since the previous run."""
        cfg = load(config, db)
        con = connect(cfg.database, read_only=True)
        try:
            changes = diff_runs(con)
        finally:
            con.close()
        if as_json:
            out.print_json(json.dumps(changes))
            return
        table = Table(title=f"decisions changed: {changes['from'] or 'first run'} -> {changes['to']}", title_justify="left")
        for col in ("change", "action", "scope", "value", "was", "offence"):
            table.add_column(col)
        for kind in ("new", "escalated", "relaxed", "removed"):
            for c in changes[kind]:
                table.add_row(kind, c["action"], c["scope"], c["value"][:48], c.get("was", ""), str(c.get("offence_count", "")))
        out.print(table)
        out.print(", ".join(f"{len(changes[k]):,} {k}" for k in ("new", "escalated", "relaxed", "removed")))
