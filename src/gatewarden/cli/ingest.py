"""`gatewarden ingest`: logs in, canonical requests out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gatewarden.cli.common import (
    ConfigOption,
    DbOption,
    QuietOption,
    err,
    handles_errors,
    interactive,
    load,
    out,
)
from gatewarden.config import Config
from gatewarden.db import connect
from gatewarden.errors import ExitCode, GatewardenError
from gatewarden.ingest import FileResult, Ingestor
from gatewarden.parsers import ParserOptions, format_names

FormatOption = Annotated[
    str,
    typer.Option("--format", "-f", help=f"Input format: {', '.join(format_names())}. `auto` sniffs each file."),
]
LogFormatOption = Annotated[
    str | None,
    typer.Option("--log-format", help="An nginx log_format string, e.g. "
                 "'$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
                 "\"$http_referer\" \"$http_user_agent\" $request_time $http_x_api_key'."),
]
MapOption = Annotated[
    list[str] | None,
    typer.Option("--map", "-m", help="canonical=source field mapping for JSONL/CSV (repeatable), "
                 "e.g. --map client_ip=remote --map token=headers.x-api-key."),
]
MaxRejectOption = Annotated[
    float | None,
    typer.Option("--max-reject-ratio", min=0.0, max=1.0,
                 help="Refuse a file when more than this share of its lines is rejected [default: 0.05]."),
]


def parse_map(pairs: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        canonical, sep, source = pair.partition("=")
        if not sep or not canonical or not source:
            raise GatewardenError(f"--map {pair!r} is not canonical=source.", "Write it as e.g. --map client_ip=remote_addr.",
                                  ExitCode.USAGE)
        mapping[canonical.strip()] = source.strip()
    return mapping


def run_ingest(cfg: Config, paths: list[str], fmt: str, log_format: str | None, field_map: dict[str, str],
               quiet: bool) -> list[FileResult]:
    from gatewarden.canonical import INPUT_FIELDS

    unknown = sorted(set(field_map) - set(INPUT_FIELDS))
    if unknown:
        raise GatewardenError(f"--map names unknown canonical fields: {', '.join(unknown)}.",
                              f"Canonical fields are: {', '.join(INPUT_FIELDS)}.", ExitCode.USAGE)
    options = ParserOptions(log_format=log_format or cfg.ingest.log_format,
                            field_map={**cfg.ingest.field_map, **field_map})
    con = connect(cfg.database)
    try:
        show = not quiet and interactive()
        with Progress(TextColumn("[bold]ingest[/] {task.description}"), BarColumn(), TextColumn("{task.completed:,} lines"),
                      TimeElapsedColumn(), console=err, disable=not show, transient=True) as bar:
            task = bar.add_task("", total=None)

            def tick(path: Path, n: int) -> None:
                bar.update(task, advance=n, description=path.name)

            results = Ingestor(con, cfg, options, fmt, tick).ingest(paths)
    finally:
        con.close()
    return results


def results_table(results: list[FileResult]) -> Table:
    table = Table(title="ingest", title_justify="left")
    for col, justify in (("file", "left"), ("format", "left"), ("status", "left"), ("lines", "right"),
                         ("accepted", "right"), ("rejected", "right"), ("first ts", "left"), ("last ts", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in results:
        table.add_row(r.path.name, r.format, r.status + (" (damaged)" if r.problems else ""), f"{r.lines:,}",
                      f"{r.accepted:,}", f"[red]{r.rejected:,}[/]" if r.rejected else "0",
                      str(r.min_ts or ""), str(r.max_ts or ""))
    if len(results) > 1:
        table.add_row("[bold]total", "", "", f"{sum(r.lines for r in results):,}",
                      f"{sum(r.accepted for r in results):,}", f"{sum(r.rejected for r in results):,}", "", "")
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def ingest(
        paths: Annotated[list[str], typer.Argument(help="Files, directories or globs (gzip and zstd are read as is).")],
        fmt: FormatOption = "auto",
        log_format: LogFormatOption = None,
        field_map: MapOption = None,
        max_reject_ratio: MaxRejectOption = None,
        db: DbOption = None,
        config: ConfigOption = None,
        quiet: QuietOption = False,
    ) -> None:
        """Load access logs into the DuckDB database as canonical requests.

        Every line becomes a request or a counted reject (see `rejects` table). Ingesting the
        same file again adds nothing; a file that grew since replaces its earlier rows.

        Examples:

          gatewarden ingest /var/log/nginx/access.log*.gz

          gatewarden ingest export.jsonl --map client_ip=remote --map token=headers.x-api-key

          gatewarden ingest api.log --log-format '$remote_addr [$time_local] "$request" $status $request_time $http_x_api_key'
        """
        cfg = load(config, db)
        if max_reject_ratio is not None:
            cfg = cfg.model_copy(update={"ingest": cfg.ingest.model_copy(update={"max_reject_ratio": max_reject_ratio})})
        results = run_ingest(cfg, paths, fmt, log_format, parse_map(field_map), quiet)
        if not quiet:
            out.print(results_table(results))
            rejected = sum(r.rejected for r in results)
            if rejected:
                out.print(f"{rejected:,} rejected lines kept with file, line and reason: "
                          f"`gatewarden rejects --db {cfg.database.path}`")
        for r in results:
            for problem in r.problems:
                err.print(f"[yellow]warning:[/] {r.path}: {problem}")
        if results and all(r.status != "unchanged" and r.accepted == 0 for r in results):
            raise typer.Exit(int(ExitCode.ERROR))
