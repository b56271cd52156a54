"""Hand-built canonical JSONL days for feature and detector tests: real files through the real CLI."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from gatewarden.analyze import analyze, resolve_window
from gatewarden.config import load_config
from gatewarden.db import connect

DAY = datetime(2026, 11, 20)
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/{v}.0"
SDK = "openai-python/1.{v}.0"


def req(ts: datetime, **fields) -> dict:
    base = {"ts": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "method": "POST", "path": "/v1/chat/completions", "status": 200,
            "duration_ms": 800.0}
    base.update(fields)
    return base


def write_day(path: Path, records: list[dict]) -> Path:
    for i, r in enumerate(sorted(records, key=lambda r: r["ts"])):
        r.setdefault("request_id", f"{path.stem}-{i:06d}")
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def ingest(cli, db_path: Path, *files: Path) -> None:
    result = cli("ingest", *files, "--db", db_path, "--format", "jsonl", "-q")
    assert result.exit_code == 0, result.output


def run(db_path: Path, detectors: list[str] | None = None, day: datetime | None = None) -> duckdb.DuckDBPyConnection:
    """Analyse the newest day and return an open connection (temp table `win` still there)."""
    cfg = load_config()
    cfg = cfg.model_copy(update={"database": cfg.database.model_copy(update={"path": db_path})})
    con = connect(cfg.database)
    window = resolve_window(con, timedelta(hours=24), day.date() if day else None)
    analyze(con, cfg, window, detectors)
    return con


def findings(con: duckdb.DuckDBPyConnection, detector: str) -> list[dict]:
    cur = con.execute("SELECT * FROM findings WHERE detector = ? ORDER BY score DESC", [detector])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
