"""What a detector is: a name, its config section, and SQL over the analysis window.

`analyze` builds the temp table `win` (the window's requests plus the shared features from
features.py) once; each detector reads it and returns its findings as a SELECT producing the
columns of FINDING_COLUMNS. Thresholds come from the window's own distributions (quantiles,
median/MAD) and from history tables, never from constants tuned to one file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

import duckdb

from gatewarden.settings import Section

# Columns a detector's SELECT must produce, in order. run_id, finding_id and window bounds are
# filled in by analyze.
FINDING_COLUMNS = (
    "detector", "scope", "value", "metric", "observed", "threshold", "score", "severity",
    "requests", "cost", "first_seen", "last_seen", "sample_request_ids", "match", "details",
)


@dataclass(frozen=True)
class Window:
    start: datetime  # inclusive
    end: datetime  # exclusive

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


class Detector(ABC):
    name: ClassVar[str]
    summary: ClassVar[str]

    def __init__(self, settings: Section):
        self.settings = settings

    @abstractmethod
    def findings_sql(self, con: duckdb.DuckDBPyConnection, window: Window) -> str | None:
        """A SELECT over `win` (and other tables) yielding FINDING_COLUMNS, or None for nothing to report.
        It may run preparatory queries on `con` (temp tables, Python over small aggregates)."""
