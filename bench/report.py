"""Turning benchmark results into the targets check, the Rich table and the machine description."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from run import Result

GIB = 1 << 30
INGEST_VS_BASELINE = 1.3
RUN_VS_BASELINE = 2.5
RSS_LIMIT = 2 * GIB
RSS_GROWTH = 1.5
SCALING_SLACK = 1.1  # 10x the lines may take at most 11x the time


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    import duckdb

    goaccess = shutil.which("goaccess")
    version = subprocess.run([goaccess, "--version"], capture_output=True, text=True).stdout.splitlines() if goaccess else []
    return {"nproc": os.cpu_count(), "ram_gib": round(ram / GIB, 1), "cpu": cpu or platform.processor(),
            "python": platform.python_version(), "duckdb": duckdb.__version__, "os": platform.platform(),
            "goaccess": version[0] if version else None}


def _find(results: list[Result], tool: str, size: int, layout: str) -> Result | None:
    return next((r for r in results if (r.tool, r.size, r.layout) == (tool, size, layout) and r.seconds), None)


def _target(name: str, tool: str, layout: str, size: int, value: float, limit: float, unit: str = "x") -> dict[str, Any]:
    passed = value <= limit
    if unit == "GiB":
        margin = f"{abs(limit - value):.2f} GiB {'under' if passed else 'over'}"
    else:
        margin = f"{abs(1 - value / limit):.0%} {'under' if passed else 'over'} the limit"
    return {"target": name, "tool": tool, "layout": layout, "size": size, "value": round(value, 3), "limit": limit,
            "unit": unit, "passed": passed, "margin": margin}


def check_targets(results: list[Result]) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []
    sizes = sorted({r.size for r in results})
    small, large = sizes[0], sizes[-1]
    for layout in sorted({r.layout for r in results}):
        for size in sizes:
            base, ingest = _find(results, "baseline", size, layout), _find(results, "ingest", size, layout)
            if base and ingest:
                targets.append(_target(f"ingest <= {INGEST_VS_BASELINE}x baseline", "ingest", layout, size,
                                       ingest.seconds / base.seconds, INGEST_VS_BASELINE))
        base, run = _find(results, "baseline", large, layout), _find(results, "run", large, layout)
        if base and run:
            targets.append(_target(f"full run <= {RUN_VS_BASELINE}x baseline", "run", layout, large,
                                   run.seconds / base.seconds, RUN_VS_BASELINE))
        for tool in ("ingest", "run"):
            big = _find(results, tool, large, layout)
            if big:
                targets.append(_target("peak RSS <= 2 GiB", tool, layout, large, big.peak_rss / GIB, RSS_LIMIT / GIB, "GiB"))
            little = _find(results, tool, small, layout)
            if big and little and large > small:
                targets.append(_target(f"RSS({large:,}) < {RSS_GROWTH}x RSS({small:,})", tool, layout, large,
                                       big.peak_rss / little.peak_rss, RSS_GROWTH))
                limit = round(SCALING_SLACK * large / small, 2)
                targets.append(_target(f"time({large:,}) / time({small:,}) <= {limit}", tool, layout, large,
                                       big.seconds / little.seconds, limit))
    return targets


def _mib(n: int | None) -> str:
    return f"{n / (1 << 20):,.0f} MiB" if n else "-"


def print_results(results: list[Result], targets: list[dict[str, Any]], command: str) -> None:
    console = Console(width=200 if not Console().is_terminal else None)
    table = Table(title=f"gatewarden bench: {command}", title_justify="left")
    for col in ("lines", "layout", "tool", "median s", "lines/s", "time / baseline", "speed / GoAccess", "peak RSS",
                "time / smaller size", "stages (median s)"):
        table.add_column(col, justify="left" if col in ("layout", "tool", "stages (median s)") else "right")
    sizes = sorted({r.size for r in results})
    for r in results:
        base, peer = _find(results, "baseline", r.size, r.layout), _find(results, "goaccess", r.size, r.layout)
        smaller = _find(results, r.tool, sizes[0], r.layout) if r.size > sizes[0] else None
        if not r.seconds:
            table.add_row(f"{r.size:,}", r.layout, r.tool, "-", "-", "-", "-", "-", "-", f"[yellow]{r.note}")
            continue
        rate = r.lines / r.seconds if r.lines else 0
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r.stages.items() if k not in ("ingest", "query") or len(r.stages) > 1)
        table.add_row(
            f"{r.size:,}", r.layout, r.tool, f"{r.seconds:.2f}", f"{rate:,.0f}",
            f"{r.seconds / base.seconds:.2f}x" if base else "-",
            f"{peer.seconds / r.seconds:.2f}x" if peer else "-",
            _mib(r.peak_rss),
            f"{r.seconds / smaller.seconds:.2f}" if smaller else "",
            (stages + (f" [yellow]{r.note}" if r.note else "")).strip(),
        )
    console.print(table)
    checks = Table(title="targets", title_justify="left")
    for col in ("target", "layout", "tool", "lines", "value", "result"):
        checks.add_column(col)
    for t in targets:
        verdict = "[green]pass" if t["passed"] else "[red]FAIL"
        value = f"{t['value']:.2f} {t['unit']}" if t["unit"] == "GiB" else f"{t['value']:.2f}x"
        checks.add_row(t["target"], t["layout"], t["tool"], f"{t['size']:,}", value, f"{verdict}[/] ({t['margin']})")
    console.print(checks)
