"""`gatewarden run --dry-run`: everything is computed on a throwaway copy; the database and --out stay untouched."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

from test_nights import digests, night, table_counts


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_dry_run_shows_what_it_would_write_and_writes_nothing(cli, tmp_path: Path, db_path: Path) -> None:
    out = tmp_path / "out"
    first = cli("run", night(tmp_path / "n1.jsonl", date(2026, 11, 20), 40), "--db", db_path, "--out", out, "-q")
    assert first.exit_code == 0, first.output
    files, db_sum, counts = digests(out), sha256(db_path), table_counts(db_path)
    wal = db_path.with_name(db_path.name + ".wal")
    wal_sum = sha256(wal) if wal.exists() else None

    tonight = night(tmp_path / "n2.jsonl", date(2026, 11, 21), 60)
    dry = cli("run", tonight, "--db", db_path, "--out", out, "--dry-run", "--log", "json")
    assert dry.exit_code == 0, dry.output
    assert "dry run: would write to" in dry.stdout and "decisions.json" in dry.stdout and "changed" in dry.stdout
    assert "decisions 2026-11-21 00:00" in dry.stdout  # the decisions table of the night that would be published
    assert f"{db_path} and {out} are unchanged" in dry.stdout
    assert '"dry_run": true' in dry.stderr and '"stage": "report"' in dry.stderr
    assert digests(out) == files
    assert sha256(db_path) == db_sum and (sha256(wal) if wal.exists() else None) == wal_sum
    assert table_counts(db_path) == counts

    # A dry run into a directory that does not exist yet does not create it either.
    assert cli("run", tonight, "--db", db_path, "--out", tmp_path / "fresh", "--dry-run", "-q").exit_code == 0
    assert not (tmp_path / "fresh").exists()

    # The real run afterwards does what the dry run said.
    real = cli("run", tonight, "--db", db_path, "--out", out, "-q")
    assert real.exit_code == 0 and digests(out) != files
    assert table_counts(db_path)["requests"] == counts["requests"] + 260
