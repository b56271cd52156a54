"""Reports through the real `run` on two nights: files written, idempotent, HTML drawn in headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from test_nights import night

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture(scope="module")
def two_nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from typer.testing import CliRunner

    from gatewarden.cli.app import app

    base = tmp_path_factory.mktemp("nights")
    db = base / "gw.duckdb"
    runner = CliRunner()
    outs = {}
    for day, leaked in ((date(2026, 11, 20), 40), (date(2026, 11, 21), 60)):
        log = night(base / f"{day}.jsonl", day, leaked)
        out = base / f"out-{day}"
        result = runner.invoke(app, ["run", str(log), "--db", str(db), "--out", str(out), "-q", "--log", "json"],
                               env={"GATEWARDEN_TOKEN_KEY": "gatewarden-test-key-0123456789abcdef"})
        assert result.exit_code == 0, result.output
        outs[str(day)] = out
    outs["db"] = db
    return outs


def test_report_files_and_history(two_nights: dict[str, Path]) -> None:
    out = two_nights["2026-11-21"]
    for name in ("report.html", "summary.md", "summary.json", "notices.csv", "notices.json"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["day"] == "2026-11-21" and summary["totals"]["requests"] == 260
    assert summary["changes"]["available"] and summary["changes"]["traffic"]["requests"] == {"yesterday": 240, "today": 260}
    first = json.loads((two_nights["2026-11-20"] / "summary.json").read_text())
    assert not first["changes"]["available"]  # the first night has no yesterday
    html = (out / "report.html").read_text()
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    assert "What changed since yesterday" in (out / "summary.md").read_text()


def test_report_rate_limits_show_decides_backtest(two_nights: dict[str, Path]) -> None:
    out = two_nights["2026-11-21"]
    section = json.loads((out / "summary.json").read_text())["rate_limits"]
    published = {(r["key"], r["endpoint"], r["window_s"]): r for r in json.loads((out / "rate_limits.json").read_text())["limits"]}
    assert section["available"] and section["items"]
    for item in section["items"]:
        limit = published[(item["scope"], item["endpoint"], item["window_s"])]
        assert item["limit"] == limit["limit"] == limit["backtest"]["limit"]
        assert {k: item[k] for k in limit["backtest"]} == limit["backtest"]


def test_report_command_is_byte_identical_on_rerun(cli, two_nights: dict[str, Path], tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        assert cli("report", "--db", two_nights["db"], "--out", d, "--day", "2026-11-21").exit_code == 0
    for name in ("report.html", "summary.md", "summary.json", "notices.csv", "notices.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_run_while_locked_exits_4(cli, two_nights: dict[str, Path], tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", "import time; from pathlib import Path; from gatewarden.ops.lock import RunLock;"
                               f"RunLock(Path({str(two_nights['db'])!r})).acquire(); print('locked', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = cli("run", tmp_path / "none.jsonl", "--db", two_nights["db"], "--out", tmp_path / "o")
        assert result.exit_code == 4
        assert f"pid {holder.pid}" in result.output and "Traceback" not in result.output
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_html_report_draws_every_chart_in_headless_chromium(two_nights: dict[str, Path], tmp_path: Path) -> None:
    page = two_nights["2026-11-21"] / "report.html"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console_errors = [line for line in proc.stderr.splitlines() if "CONSOLE" in line and ("ERROR" in line or "error" in line)]
    assert not console_errors, console_errors
    dom = proc.stdout
    expected = int(dom.split('data-charts-expected="')[1].split('"')[0])
    assert expected >= 3
    assert f'data-charts-drawn="{expected}"' in dom
