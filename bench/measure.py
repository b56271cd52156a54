"""Running one benchmarked process: wall time and peak resident memory of its whole process tree.

Memory is polled with psutil (every 20 ms) and summed over the process and its children, so a
tool that forks helpers (GoAccess, a shell) is charged for them too. Polling can miss a spike
shorter than the interval; for the steady allocations of log processing that is not a concern.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

POLL_SECONDS = 0.02


@dataclass
class Measured:
    argv: list[str]
    seconds: float
    peak_rss: int
    returncode: int
    stdout: str
    stderr: str


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def run_measured(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Measured:
    """Run argv to completion, capturing its output (read concurrently, so a chatty tool cannot block)."""
    peak = 0
    started = time.perf_counter()
    with subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        watched = psutil.Process(child.pid)
        done = threading.Event()

        def poll() -> None:
            nonlocal peak
            while not done.is_set():
                try:
                    peak = max(peak, _tree_rss(watched))
                except psutil.NoSuchProcess:
                    return
                done.wait(POLL_SECONDS)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        stdout, stderr = child.communicate()
        seconds = time.perf_counter() - started
        done.set()
        poller.join()
    return Measured(argv, seconds, peak, child.returncode, stdout, stderr)
