"""Per-request features shared by all detectors, computed once per analysis window.

`build_window` creates the temp table `win`: the window's canonical requests plus derived
columns. Detectors read `win`; none of them re-derives these columns.
"""

from __future__ import annotations

import duckdb

from gatewarden.config import Config
from gatewarden.detectors.base import Window


def build_window(con: duckdb.DuckDBPyConnection, window: Window, cfg: Config) -> int:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE win AS SELECT r.* FROM requests r WHERE r.ts >= ? AND r.ts < ?",
        [window.start, window.end],
    )
    return con.execute("SELECT count(*) FROM win").fetchall()[0][0]
