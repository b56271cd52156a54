"""Reports: report.html (self-contained), summary.md, summary.json and customer notices, from one data collection."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # gatewarden.config imports reports.config, so this package must not import it back at load time
    import duckdb

    from gatewarden.config import Config
    from gatewarden.detectors.base import Window


def write_reports(con: duckdb.DuckDBPyConnection, cfg: Config, window: Window, out_dir: Path,
                  reuse_win: bool = False, step: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Write every report file into `out_dir`; returns counts for the stage log. Set `reuse_win` when the
    temp table `win` already holds this window's features (right after analyze). `step(section, how_many)`
    is called as each section is collected (progress bars)."""
    from gatewarden.reports.collect import collect, latest_decision_run
    from gatewarden.reports.html import write_html
    from gatewarden.reports.markdown import write_markdown
    from gatewarden.reports.notices import build_notices, write_notices
    from gatewarden.reports.summary_json import write_summary_json

    data = collect(con, cfg, window, reuse_win, step)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_html(data, out_dir, cfg.reports.title)
    write_markdown(data, out_dir, cfg.reports.title)
    write_summary_json(data, out_dir)
    notices = build_notices(con, latest_decision_run(con, window), cfg.reports.support_contact)
    write_notices(notices, out_dir)
    sections = [k for k, v in data.items() if isinstance(v, dict) and "available" in v]
    return {"files": 5, "notices": len(notices), "sections_with_data": sum(bool(data[k]["available"]) for k in sections),
            "sections": len(sections)}
