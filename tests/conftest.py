"""Shared fixtures: real DuckDB files in tmp dirs and the real CLI through Typer's runner."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from gatewarden.cli.app import app

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SAMPLE_LOGS = REPO / "sample_logs"
SHARED = REPO.parent / "shared" / "data"
TEST_KEY = "gatewarden-test-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _token_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWARDEN_TOKEN_KEY", TEST_KEY)
    for var in ("GATEWARDEN_DB", "GATEWARDEN_CONFIG", "GATEWARDEN_TOKEN_KEY_FILE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "gw.duckdb"


@pytest.fixture
def cli():
    """Run the real CLI in-process; returns the click Result (exit_code, stdout, stderr)."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(app, [str(a) for a in args], env={**os.environ, **(env or {})}, catch_exceptions=False)

    return invoke


def fetch(db_path: Path, sql: str) -> list[tuple]:
    """Rows of `sql` from a real database file, opened read-only in UTC."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        con.execute("SET TimeZone='UTC'")
        return con.execute(sql).fetchall()
    finally:
        con.close()
