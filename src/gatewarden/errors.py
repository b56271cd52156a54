"""Errors users see: one clear sentence, the fix, and a documented exit code."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # input could not be processed (nothing readable, corrupt database, ...)
    USAGE = 2  # bad command line or configuration
    SAFETY_VALVE = 3  # decisions would stop an implausible share of clean traffic; nothing written
    LOCKED = 4  # another gatewarden run holds the lock on this database


class GatewardenError(Exception):
    """An expected failure. The CLI prints `message` and `fix` and exits with `exit_code`."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, fix: str | None = None, exit_code: ExitCode | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message}\nFix: {self.fix}"


class ConfigError(GatewardenError):
    exit_code = ExitCode.USAGE


class UsageError(GatewardenError):
    exit_code = ExitCode.USAGE


class SecretKeyMissing(GatewardenError):
    exit_code = ExitCode.USAGE


class SafetyValveTripped(GatewardenError):
    exit_code = ExitCode.SAFETY_VALVE


class RunLocked(GatewardenError):
    exit_code = ExitCode.LOCKED
