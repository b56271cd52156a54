"""The `gatewarden` command. Each sub-command group lives in its own module, registered here."""

from __future__ import annotations

import typer

from gatewarden import __version__
from gatewarden.cli import analyze as analyze_commands
from gatewarden.cli import asn as asn_commands
from gatewarden.cli import decide as decide_commands
from gatewarden.cli import diff as diff_commands
from gatewarden.cli import evaluate as evaluate_commands
from gatewarden.cli import explain as explain_commands
from gatewarden.cli import generate as generate_commands
from gatewarden.cli import ingest as ingest_commands
from gatewarden.cli import init as init_commands
from gatewarden.cli import prune as prune_commands
from gatewarden.cli import rejects as rejects_commands
from gatewarden.cli import report as report_commands
from gatewarden.cli import run as run_commands

# One module per line: adding a command group is one import and one line here.
COMMAND_MODULES = (
    init_commands,
    ingest_commands,
    asn_commands,
    rejects_commands,
    analyze_commands,
    evaluate_commands,
    decide_commands,
    run_commands,
    explain_commands,
    diff_commands,
    prune_commands,
    report_commands,
    generate_commands,
)

app = typer.Typer(
    name="gatewarden",
    help="Find abuse of a generative-AI API in its access logs, and tell the gateway what to do about it.\n\n"
    "Exit codes: 0 ok, 1 error, 2 bad usage or config, 3 safety valve tripped (nothing written), "
    "4 another run holds the lock.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

for module in COMMAND_MODULES:
    module.register(app)


def _version(value: bool) -> None:
    if value:
        print(f"gatewarden {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    pass


def main() -> None:
    app()
