"""`gatewarden rejects`: what could not be read, where, and why."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gatewarden.cli.common import ConfigOption, DbOption, handles_errors, load, out
from gatewarden.db import connect, dicts


def register(app: typer.Typer) -> None:
    @app.command("rejects")
    @handles_errors
    def rejects_cmd(
        file: Annotated[str | None, typer.Option("--file", help="Only rejects of files whose path contains this text.")] = None,
        lines: Annotated[bool, typer.Option("--lines", help="List rejected lines instead of counting them by reason.")] = False,
        top: Annotated[int, typer.Option("--top", "-n", help="How many rows.")] = 30,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Show rejected input lines: counts by file and reason, or the lines themselves (secrets redacted).

        Examples:

          gatewarden rejects

          gatewarden rejects --file access.log --lines -n 10
        """
        cfg = load(config, db)
        con = connect(cfg.database, read_only=True)
        pattern = f"%{file}%" if file else "%"
        try:
            if lines:
                rows = dicts(con, "SELECT source_file, source_line, reason, left(raw, 160) AS raw FROM rejects "
                                  "WHERE source_file LIKE ? ORDER BY source_file, source_line NULLS FIRST LIMIT ?", [pattern, top])
                columns = ("source_file", "source_line", "reason", "raw")
            else:
                rows = dicts(con, "SELECT source_file, reason, count(*) AS lines, min(source_line) AS first_line FROM rejects "
                                  "WHERE source_file LIKE ? GROUP BY ALL ORDER BY lines DESC, source_file, reason LIMIT ?",
                             [pattern, top])
                columns = ("source_file", "reason", "lines", "first_line")
        finally:
            con.close()
        table = Table(title="rejects", title_justify="left")
        for col in columns:
            table.add_column(col, justify="right" if col in ("lines", "first_line", "source_line") else "left", overflow="fold")
        for r in rows:
            table.add_row(*("" if r[c] is None else str(r[c]) for c in columns))
        out.print(table if rows else "no rejected lines")
