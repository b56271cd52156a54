"""The run lock: never two runs on one database; a dead holder never blocks the next night."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gatewarden.errors import ExitCode, RunLocked
from gatewarden.ops.lock import RunLock, lock_path


def test_second_lock_is_refused_with_exit_code_4(db_path: Path) -> None:
    with RunLock(db_path, "run"):
        with pytest.raises(RunLocked) as info, RunLock(db_path, "report"):
            pass
        assert info.value.exit_code == ExitCode.LOCKED
        assert "pid" in info.value.message and "run" in info.value.message
    with RunLock(db_path):  # released: the next one gets it
        pass


def test_lock_held_by_another_process(db_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time; from gatewarden.ops.lock import RunLock;"
         f"l = RunLock(__import__('pathlib').Path({str(db_path)!r})).acquire(); print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLocked, match=f"pid {holder.pid}"):
            RunLock(db_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    with RunLock(db_path) as lock:  # the kernel dropped the dead holder's lock
        assert lock.stale is not None and lock.stale.pid == holder.pid


def test_stale_record_from_a_dead_pid_is_taken_over(db_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock_path(db_path).write_text(json.dumps({"pid": int(dead.stdout), "started": "2026-11-20T02:00:00+00:00", "command": "run"}))
    with RunLock(db_path) as lock:
        assert lock.stale is not None and lock.stale.started == "2026-11-20T02:00:00+00:00"
        assert json.loads(lock_path(db_path).read_text())["pid"] != int(dead.stdout)


def test_two_runs_started_at_once_one_runs_the_other_exits_4(tmp_path: Path, db_path: Path) -> None:
    from datetime import date

    from test_nights import night

    log = night(tmp_path / "n.jsonl", date(2026, 11, 20), 20)
    env = {**os.environ, "GATEWARDEN_TOKEN_KEY": "gatewarden-test-key-0123456789abcdef"}
    runs = [subprocess.Popen([sys.executable, "-m", "gatewarden", "run", str(log), "--db", str(db_path), "--out", str(tmp_path / f"out{i}"),
                              "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in runs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 4], results
    refused = next(err for code, _, err in results if code == 4)
    winner = next(p for p, (code, _, _) in zip(runs, results, strict=True) if code == 0)
    assert f"pid {winner.pid}" in refused and "holds the lock" in refused and "Traceback" not in refused
