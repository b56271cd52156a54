"""One run at a time per database: an exclusive `flock` on `<db>.lock`.

The kernel drops an flock when its holder dies, so a lock left behind by a crashed or killed
run can never block the next night: the file remains, the lock does not. The file records the
holder's pid and start time so the run that is refused can say who holds it, and a run that
takes over a dead holder's file says so.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from gatewarden.errors import RunLocked


def lock_path(db_path: Path) -> Path:
    return Path(db_path).with_name(Path(db_path).name + ".lock")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Holder:
    pid: int | None
    started: str | None
    command: str | None

    @classmethod
    def read(cls, path: Path) -> Holder:
        try:
            data = json.loads(path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            data = {}
        pid = data.get("pid")
        return cls(pid if isinstance(pid, int) else None, data.get("started"), data.get("command"))


class RunLock:
    """`with RunLock(db_path, "run"):` — raises RunLocked (exit code 4) when another run holds it."""

    def __init__(self, db_path: Path, command: str = "run"):
        self.path = lock_path(db_path)
        self.command = command
        self.stale: Holder | None = None  # a dead holder's record this run took over
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = Holder.read(self.path)
            who = f"pid {holder.pid}" if holder.pid else "another process"
            since = f", started {holder.started}" if holder.started else ""
            raise RunLocked(
                f"Another gatewarden {holder.command or 'run'} ({who}{since}) holds the lock {self.path}; not starting a second one.",
                "Wait for it to finish (cron: this night's run is still going). The lock is released automatically when "
                "that process exits, so never delete the file by hand.",
            ) from None
        previous = Holder.read(self.path)
        if previous.pid and previous.pid != os.getpid() and not pid_alive(previous.pid):
            self.stale = previous
        record = {"pid": os.getpid(), "started": datetime.now(UTC).isoformat(timespec="seconds"), "command": self.command}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        # Emptied, not deleted: deleting would let a waiting process lock an orphaned inode.
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
