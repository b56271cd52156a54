"""Structured stage logging for cron: one line per stage with its duration, counts and outcome.

`--log json` writes one JSON object per line to stderr (for journald, Loki, Datadog, ...);
`--log text` writes the same facts as `key=value` text. Failures are always logged, even
with --quiet, because a cron job's only witness is its log.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO

from gatewarden.errors import GatewardenError


class LogFormat(StrEnum):
    json = "json"
    text = "text"


class RunLog:
    def __init__(self, fmt: LogFormat = LogFormat.text, quiet: bool = False, stream: TextIO | None = None,
                 run: dict[str, Any] | None = None):
        self.fmt = LogFormat(fmt)
        self.quiet = quiet
        self.stream = stream
        self.run = run or {}  # fields repeated on every line, e.g. {"day": "2026-11-21", "dry_run": false}
        self.stages: list[dict[str, Any]] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[dict[str, Any]]:
        """Time a stage; the caller fills the yielded dict with counts. One line is written when it ends."""
        counts: dict[str, Any] = {}
        started = time.monotonic()
        try:
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
