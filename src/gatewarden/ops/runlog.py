"""Structured stage logging for cron: one line per stage with its duration, counts and outcome.

`--log json` writes one JSON object per line to stderr (for journald, Loki, Datadog, ...);
`--log text` writes the same facts as `key=value` text. Failures are always logged, even
with --quiet, because a cron job's only witness is its log.

On a terminal (and without --quiet) a stage can also show a transient Rich progress bar; it is
never drawn for cron, pipes or CI, where it would only litter the log.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from gatewarden.errors import GatewardenError


class LogFormat(StrEnum):
    json = "json"
    text = "text"


class Stage(dict[str, Any]):
    """A stage's counts (what its log line reports) plus its progress bar, which is a no-op when not drawn."""

    def __init__(self, bar: Progress | None = None, task: TaskID | None = None):
        super().__init__()
        self._bar, self._task = bar, task
        self._started_steps = 0

    def step(self, description: str, total: int | None = None) -> None:
        """One unit of work begins (a detector, a report section); `total` sizes the bar once known."""
        if self._bar is None or self._task is None:
            return
        # A step starting means the one before it is done.
        self._bar.update(self._task, completed=self._started_steps)
        self._started_steps += 1
        self._bar.update(self._task, description=description, **({"total": total} if total is not None else {}))


class RunLog:
    def __init__(self, fmt: LogFormat = LogFormat.text, quiet: bool = False, stream: TextIO | None = None,
                 run: dict[str, Any] | None = None, progress_console: Console | None = None):
        self.fmt = LogFormat(fmt)
        self.quiet = quiet
        self.stream = stream
        self.run = run or {}  # fields repeated on every line, e.g. {"day": "2026-11-21", "dry_run": false}
        self.stages: list[dict[str, Any]] = []
        # Bars only for a person watching: a terminal console, and not --quiet.
        self.progress_console = progress_console if progress_console is not None and progress_console.is_terminal and not quiet \
            else None

    @contextmanager
    def stage(self, name: str, progress: bool = False) -> Iterator[Stage]:
        """Time a stage; the caller fills the yielded dict with counts. One line is written when it ends.
        With `progress`, a transient bar advanced by `Stage.step` is drawn while the stage runs (terminal only)."""
        started = time.monotonic()
        bar = None
        if progress and self.progress_console is not None:
            bar = Progress(SpinnerColumn(), TextColumn(f"[bold]{name}[/]"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.description}"), TimeElapsedColumn(), console=self.progress_console, transient=True)
        counts = Stage(bar, bar.add_task("", total=None) if bar else None)
        try:
            with bar or nullcontext():
                yield counts
        except GatewardenError as exc:
            self._emit(name, "error", started, counts, error=exc.message, exit_code=int(exc.exit_code))
            raise
        except BaseException as exc:
            self._emit(name, "error", started, counts, error=f"{type(exc).__name__}: {exc}")
            raise
        self._emit(name, "ok", started, counts)

    def event(self, name: str, status: str = "ok", **fields: Any) -> None:
        """A line that is not a timed stage (lock taken over, run finished, ...)."""
        self._write({"stage": name, "status": status, **fields})

    def _emit(self, name: str, status: str, started: float, counts: dict[str, Any], **extra: Any) -> None:
        record = {"stage": name, "status": status, "duration_s": round(time.monotonic() - started, 3), "counts": counts, **extra}
        self.stages.append(record)
        self._write(record)

    def _write(self, record: dict[str, Any]) -> None:
        if self.quiet and self.fmt is LogFormat.text and record.get("status") != "error":
            return
        line = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "app": "gatewarden", **self.run, **record}
        stream = self.stream or sys.stderr
        if self.fmt is LogFormat.json:
            stream.write(json.dumps(line, default=str, sort_keys=False) + "\n")
        else:
            counts = line.pop("counts", {}) or {}
            head = f"{line.pop('ts')} {line.pop('stage')} {line.pop('status')}"
            line.pop("app")
            fields = {**line, **counts}
            stream.write(head + "".join(f" {k}={_text(v)}" for k, v in fields.items()) + "\n")
        stream.flush()


def _text(value: Any) -> str:
    text = json.dumps(value, default=str) if isinstance(value, list | dict) else str(value)
    return f'"{text}"' if " " in text else text
