"""Shared CLI plumbing: options every command takes, error handling, consoles."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from gatewarden.config import Config, load_config
from gatewarden.errors import GatewardenError

# Off a terminal (cron, CI, pipes) Rich would wrap at 80 columns; a log line should stay one line.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="DuckDB database file [default: database.path from the config, else ./gatewarden.duckdb].",
                 envvar="GATEWARDEN_DB", show_envvar=True),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file (see `gatewarden init`).", envvar="GATEWARDEN_CONFIG",
                 show_envvar=True, exists=False),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or tables; errors only.")]


def load(config: Path | None, db: Path | None) -> Config:
    cfg = load_config(config)
    if db is not None:
        cfg = cfg.model_copy(update={"database": cfg.database.model_copy(update={"path": db})})
    return cfg


def fail(exc: GatewardenError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc.message}")
    if exc.fix:
        err.print(f"[bold]fix:[/] {exc.fix}")
    return typer.Exit(int(exc.exit_code))


def handles_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Expected failures become one message plus a fix and the documented exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GatewardenError as exc:
            raise fail(exc) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper


def interactive() -> bool:
    return sys.stderr.isatty()
