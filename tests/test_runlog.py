"""Stage logs and progress bars: bars only for a person at a terminal, one log line per stage either way."""

from __future__ import annotations

import io
import json

from rich.console import Console

from gatewarden.ops.runlog import LogFormat, RunLog


def run_stage(console: Console, quiet: bool) -> tuple[str, str]:
    log_stream = io.StringIO()
    log = RunLog(LogFormat.json, quiet, stream=log_stream, progress_console=console)
    with log.stage("analyze", progress=True) as stage:
        for name in ("token_ip_fanout", "burst", "graphql"):
            stage.step(name, 3)
        stage.update(findings=7)
    return console.file.getvalue(), log_stream.getvalue()  # type: ignore[attr-defined]


def test_progress_bar_on_a_terminal_and_one_log_line() -> None:
    drawn, logged = run_stage(Console(file=io.StringIO(), force_terminal=True, width=120), quiet=False)
    assert "analyze" in drawn and "graphql" in drawn and "/3" in drawn
    line = json.loads(logged)
    assert line["stage"] == "analyze" and line["status"] == "ok" and line["counts"] == {"findings": 7}


def test_no_bar_off_a_terminal_or_with_quiet() -> None:
    for console, quiet in ((Console(file=io.StringIO(), force_terminal=False), False),
                           (Console(file=io.StringIO(), force_terminal=True), True)):
        drawn, logged = run_stage(console, quiet)
        assert drawn == ""
        assert json.loads(logged)["counts"] == {"findings": 7}  # --log json still reports every stage
