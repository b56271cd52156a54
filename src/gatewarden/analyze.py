"""Analysis: anchor a window on the data's own clock, build features, run every enabled detector,
and store explained findings."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb

from gatewarden.config import Config
from gatewarden.db import rows, scalar
from gatewarden.detectors import DETECTORS
from gatewarden.detectors.base import FINDING_COLUMNS, Window
from gatewarden.errors import GatewardenError, UsageError
from gatewarden.features import build_window


@dataclass
class AnalysisResult:
    run_id: str
    window: Window
    requests: int
    findings_by_detector: dict[str, int]


def parse_duration(text: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        value, unit = float(text[:-1]), text[-1].lower()
        return timedelta(seconds=value * units[unit])
    except (ValueError, KeyError, IndexError):
        raise UsageError(f"--window {text!r} is not a duration.", "Write it like 24h, 90m or 7d.") from None


def resolve_window(con: duckdb.DuckDBPyConnection, length: timedelta, day: date | None) -> Window:
    """The window ends at the end of `day`, or of the newest day present in the data (never the wall clock)."""
    if day is None:
        newest = scalar(con, "SELECT max(ts) FROM requests")
        if newest is None:
            raise GatewardenError("The database holds no requests to analyse.", "Ingest logs first: `gatewarden ingest LOGS`.")
        day = newest.date()
    end = datetime.combine(day + timedelta(days=1), datetime.min.time())
    return Window(end - length, end)


def run_id_for(window: Window, detectors: list[str]) -> str:
    basis = f"{window.start.isoformat()}|{window.end.isoformat()}|{','.join(detectors)}"
    return hashlib.blake2b(basis.encode(), digest_size=8).hexdigest()


def analyze(con: duckdb.DuckDBPyConnection, cfg: Config, window: Window, only: list[str] | None = None,
            on_detector: Callable[[str, int], None] | None = None) -> AnalysisResult:
    """`on_detector(name, how_many)` is called as each detector starts (progress bars)."""
    enabled = [d for d in DETECTORS if (only is None or d.name in only) and _settings(cfg, d.name).enabled]
    run_id = run_id_for(window, [d.name for d in enabled])
    started = datetime.now()
    n = build_window(con, window, cfg)
    counts: dict[str, int] = {}
    cols = ", ".join(FINDING_COLUMNS)
    # A parallel float sum (costs, a session's timing CV) differs in its last bits from run to run; rounding far
    # below what anyone reads keeps findings (and the decisions built on them) byte-identical when a night is re-run.
    selected = ", ".join(f"round({c}, 9) AS {c}" if c in ("cost", "observed", "threshold", "score") else c
                         for c in FINDING_COLUMNS)
    con.begin()
    try:
        # Re-analysing a window replaces its findings, so a re-run is idempotent.
        con.execute("DELETE FROM findings WHERE window_start = ? AND window_end = ?", [window.start, window.end])
        kept = _temp_tables(con)
        for cls in enabled:
            if on_detector:
                on_detector(cls.name, len(enabled))
            detector = cls(_settings(cfg, cls.name))
            sql = detector.findings_sql(con, window)
            counts[cls.name] = 0
            if sql:
                before = scalar(con, "SELECT count(*) FROM findings")
                con.execute(
                    f"""INSERT INTO findings ({cols}, finding_id, run_id, window_start, window_end)
                    SELECT {selected},
                           substr(sha256(concat_ws('|', detector, scope, value, metric, ?, ?)), 1, 16),
                           ?, ?, ?
                    FROM ({sql})""",
                    [window.start.isoformat(), window.end.isoformat(), run_id, window.start, window.end],
                )
                counts[cls.name] = scalar(con, "SELECT count(*) FROM findings") - before
            # A detector's working tables are its own (nothing downstream reads them): freed now, they no longer
            # weigh on the memory limit of the detectors after it and of decide and report in the same run.
            for table in sorted(_temp_tables(con) - kept):
                con.execute(f'DROP TABLE "{table}"')
        con.execute("DELETE FROM analysis_runs WHERE run_id = ?", [run_id])
        con.execute(
            "INSERT INTO analysis_runs VALUES (?, ?, ?, ?, ?, ?, ?, current_timestamp)",
            [run_id, window.start, window.end, n, [d.name for d in enabled], sum(counts.values()), started],
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return AnalysisResult(run_id, window, n, counts)


def _temp_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {name for (name,) in rows(con, "SELECT table_name FROM duckdb_tables() WHERE temporary")}


def _settings(cfg: Config, name: str):
    settings = getattr(cfg.detectors, name)
    # A detector that checks requests against the API spec sees endpoints.openapi unless it names its own.
    if "openapi" in type(settings).model_fields and settings.openapi is None and cfg.endpoints.openapi is not None:
        settings = settings.model_copy(update={"openapi": cfg.endpoints.openapi})
    return settings
