"""`gatewarden analyze` and `gatewarden findings`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.table import Table

from gatewarden.analyze import AnalysisResult, analyze, parse_duration, resolve_window
from gatewarden.cli.common import ConfigOption, DbOption, QuietOption, handles_errors, load, out
from gatewarden.config import Config
from gatewarden.db import connect, dicts
from gatewarden.detectors import detector_names

WindowOption = Annotated[str, typer.Option("--window", "-w", help="Length of the analysis window, ending at the end of the day.")]
DayOption = Annotated[
    datetime | None,
    typer.Option("--day", formats=["%Y-%m-%d"], help="Day to analyse (UTC) [default: the newest day in the data]."),
]
DetectorOption = Annotated[list[str] | None, typer.Option("--detector", "-d", help="Run only these detectors (repeatable).")]


def run_analyze(cfg: Config, window: str, day: datetime | None, only: list[str] | None,
                on_detector: Callable[[str, int], None] | None = None,
                con: duckdb.DuckDBPyConnection | None = None) -> AnalysisResult:
    """Analyse on `con` when given (its temp table `win` then stays for later stages), else on a connection of its own."""
    own = con is None
    con = connect(cfg.database) if own else con
    try:
        win = resolve_window(con, parse_duration(window), day.date() if day else None)
        return analyze(con, cfg, win, only, on_detector)
    finally:
        if own:
            con.close()


def summary_table(result: AnalysisResult) -> Table:
    table = Table(title=f"analysis {result.window.start:%Y-%m-%d %H:%M} .. {result.window.end:%Y-%m-%d %H:%M} UTC, "
                        f"{result.requests:,} requests", title_justify="left")
    table.add_column("detector")
    table.add_column("findings", justify="right")
    for name, n in result.findings_by_detector.items():
        table.add_row(name, f"{n:,}")
    return table


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    @handles_errors
    def analyze_cmd(window: WindowOption = "24h", day: DayOption = None, detector: DetectorOption = None,
                    db: DbOption = None, config: ConfigOption = None, quiet: QuietOption = False,
                    openapi: Annotated[Path | None, typer.Option("--openapi", help="OpenAPI 3 spec (YAML/JSON) the schema "
                                                                 "detector checks requests against [default: endpoints.openapi].")] = None,
                    ) -> None:
        """Run every enabled detector over a window anchored on the data's own clock and store findings.

        Detectors: {detectors}.

        Example: gatewarden analyze --day 2026-11-20 --window 24h
        """
        cfg = load(config, db)
        if openapi is not None:
            cfg = cfg.model_copy(update={"endpoints": cfg.endpoints.model_copy(update={"openapi": openapi})})
        result = run_analyze(cfg, window, day, detector)
        if not quiet:
            out.print(summary_table(result))

    analyze_cmd.__doc__ = (analyze_cmd.__doc__ or "").replace("{detectors}", ", ".join(detector_names()) or "none")

    @app.command("findings")
    @handles_errors
    def findings_cmd(detector: Annotated[str | None, typer.Option("--detector", "-d", help="Only this detector.")] = None,
                     top: Annotated[int, typer.Option("--top", "-n", help="How many rows, strongest first.")] = 30,
                     db: DbOption = None, config: ConfigOption = None) -> None:
        """Show the latest window's findings: who, which detector and metric, value against threshold, evidence."""
        cfg = load(config, db)
        con = connect(cfg.database, read_only=True)
        try:
            rows = dicts(con, """
                SELECT detector, scope, value, metric, observed, threshold, severity, requests, cost,
                       window_start, window_end
                FROM findings
                WHERE window_end = (SELECT max(window_end) FROM findings) AND (? IS NULL OR detector = ?)
                ORDER BY severity = 'high' DESC, score DESC, requests DESC LIMIT ?""", [detector, detector, top])
        finally:
            con.close()
        table = Table(title="findings" + (f" ({rows[0]['window_start']:%Y-%m-%d %H:%M} .. {rows[0]['window_end']:%H:%M})"
                                          if rows else ""), title_justify="left")
        for col in ("detector", "scope", "value", "metric", "observed", "threshold", "severity", "requests", "cost"):
            table.add_column(col, justify="right" if col in ("observed", "threshold", "requests", "cost") else "left")
        for r in rows:
            table.add_row(r["detector"], r["scope"], r["value"][:48], r["metric"], f"{r['observed']:.4g}",
                          f"{r['threshold']:.4g}" if r["threshold"] is not None else "", r["severity"],
                          f"{r['requests'] or 0:,}", f"{r['cost'] or 0:.2f}")
        out.print(table)
