"""`gatewarden run` end to end through the real CLI: ingest + analyze + decide + emit, then explain and diff."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from decisions_helpers import benign_and_attack_lines, write_log

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "src/gatewarden/data/decisions.schema.json").read_text())


def test_run_writes_valid_outputs_and_explain_diff_answer(tmp_path, db_path, cli):
    log = write_log(tmp_path / "a.jsonl", benign_and_attack_lines())
    result = cli("run", log, "--out", tmp_path / "out", "--db", db_path, "--format", "jsonl", "--max-reject-ratio", "0.1",
                 "--window", "24h", "--day", "2026-11-20", "--quiet")
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "out/decisions.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["window"] == {"start": "2026-11-20T00:00:00Z", "end": "2026-11-21T00:00:00Z"}
    assert json.loads((tmp_path / "out/rate_limits.json").read_text())["window"] == doc["window"]
    for name in ("ips.txt", "cidrs.txt", "nginx/http.conf", "haproxy/ips.map", "gatewarden.nft", "envoy/local_ratelimit.yaml"):
        assert (tmp_path / "out" / name).exists(), name
    explained = cli("explain", "198.51.100.10", "--db", db_path)
    assert explained.exit_code == 0 and "window 2026-11-20 00:00" in explained.output
    assert "no decision covers 198.51.100.10" in explained.output or "198.51.100.10" in explained.output
    diff = cli("diff", "--json", "--db", db_path)
    assert diff.exit_code == 0 and json.loads(diff.output)["from"] is None


def test_explain_and_diff_before_any_decision_say_what_to_do(db_path, cli, tmp_path):
    cli("ingest", write_log(tmp_path / "a.jsonl", benign_and_attack_lines()), "--db", db_path)
    result = cli("explain", "1.2.3.4", "--db", db_path)
    assert result.exit_code == 1 and "gatewarden decide" in result.output


def test_the_windows_scratch_database_leaves_with_its_process(tmp_path, db_path):
    # The analysis window is stored in a database file of the process's own beside the database; a run removes
    # its own when it ends, and one left by a process that died.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout
    left = db_path.with_name(f"{db_path.name}.scratch-{dead.strip()}")
    left.write_bytes(b"left by a run that was killed")
    log = write_log(tmp_path / "a.jsonl", benign_and_attack_lines())
    done = subprocess.run([sys.executable, "-m", "gatewarden", "run", str(log), "--out", str(tmp_path / "out"), "--db",
                           str(db_path), "--format", "jsonl", "--max-reject-ratio", "0.1", "--quiet"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out/decisions.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if ".scratch-" in p.name) == []
