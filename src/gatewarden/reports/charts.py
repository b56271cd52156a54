"""Server-side SVG charts: real axes, bars and markers, no script and no network needed to view them.

Each chart is an <svg class="chart" data-marks="N"> where N counts the drawn data marks, so a test
(and the page's own check) can tell a drawn chart from an empty one. Hover titles carry exact values.
"""

from __future__ import annotations

from html import escape
from typing import Any

W, H = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 44
COLORS = {"clean": "#4c9f70", "flagged": "#e0a030", "throttled": "#8a6fbf", "stopped": "#c8453c", "bar": "#4a72b0", "baseline": "#222"}


def _ticks(top: float, n: int = 4) -> list[float]:
    if top <= 0:
        return [0.0]
    raw = top / n
    mag = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    step = next((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), raw)
    return [step * i for i in range(int(top / step) + 2) if step * i <= top * 1.05 or i == 0]


def _fmt(v: float) -> str:
    if abs(v) >= 1e6:
        return f"{v / 1e6:.1f}M"
    if abs(v) >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:g}" if v == int(v) else f"{v:.2f}"


def _frame(marks: list[str], ymax: float, label: str, ylabel: str) -> str:
    plot_h = H - TOP - BOTTOM
    grid = []
    for t in _ticks(ymax):
        y = TOP + plot_h - plot_h * (t / ymax if ymax else 0)
        grid.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                    f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    n = sum(1 for m in marks if 'class="mark' in m)
    return (f'<svg class="chart" data-marks="{n}" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(label)}" '
            f'xmlns="http://www.w3.org/2000/svg">'
            f'<text x="14" y="{TOP + plot_h / 2}" transform="rotate(-90 14 {TOP + plot_h / 2})" text-anchor="middle">'
            f'{escape(ylabel)}</text>' + "".join(grid) +
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{H - BOTTOM}" y2="{H - BOTTOM}" class="axis"/>' + "".join(marks) + "</svg>")


def stacked_bars(rows: list[dict[str, Any]], x: str, series: list[str], label: str, ylabel: str) -> str:
    """One bar per row, `series` stacked bottom-up; the x labels thin out to stay readable."""
    if not rows:
        return ""
    ymax = max(sum(r[s] for s in series) for r in rows) or 1
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    bw = plot_w / len(rows)
    every = max(1, len(rows) // 12)
    marks = []
    for i, r in enumerate(rows):
        base = 0.0
        for s in series:
            if r[s]:
                h = plot_h * r[s] / ymax
                y = TOP + plot_h - plot_h * base / ymax - h
                marks.append(f'<rect class="mark" x="{LEFT + i * bw + 1:.1f}" y="{y:.1f}" width="{max(bw - 2, 1):.1f}" '
                             f'height="{h:.1f}" fill="{COLORS.get(s, COLORS["bar"])}"><title>{escape(str(r[x]))} {s}: '
                             f'{r[s]:,}</title></rect>')
            base += r[s]
        if i % every == 0:
            marks.append(f'<text x="{LEFT + i * bw + bw / 2:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">'
                         f'{escape(str(r[x])[-5:])}</text>')
    legend = "".join(f'<rect x="{LEFT + 110 * k}" y="{H - 16}" width="10" height="10" fill="{COLORS.get(s, COLORS["bar"])}"/>'
                     f'<text x="{LEFT + 110 * k + 14}" y="{H - 7}">{escape(s)}</text>' for k, s in enumerate(series))
    return _frame(marks + [legend], ymax, label, ylabel)


def histogram(buckets: list[dict[str, Any]], label: str, xlabel: str, markers: list[tuple[str, float]] | None = None) -> str:
    """Bars per bucket (lo..hi, n); `markers` are vertical lines (thresholds, quantiles) placed on their bucket."""
    if not buckets:
        return ""
    ymax = max(b["n"] for b in buckets) or 1
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    bw = plot_w / len(buckets)
    marks = []
    for i, b in enumerate(buckets):
        h = plot_h * b["n"] / ymax
        span = str(b["lo"]) if b["lo"] == b["hi"] else f"{b['lo']}-{b['hi']}"
        marks.append(f'<rect class="mark" x="{LEFT + i * bw + 1:.1f}" y="{TOP + plot_h - h:.1f}" width="{max(bw - 2, 1):.1f}" '
                     f'height="{h:.1f}" fill="{COLORS["bar"]}"><title>{xlabel} {span}: {b["n"]:,}</title></rect>')
        if i % max(1, len(buckets) // 12) == 0:
            marks.append(f'<text x="{LEFT + i * bw + bw / 2:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{escape(span)}</text>')
    for k, (name, value) in enumerate(markers or []):
        pos = next((i + (value - b["lo"] + 0.5) / (b["hi"] - b["lo"] + 1) for i, b in enumerate(buckets) if b["lo"] <= value <= b["hi"]),
                   len(buckets) if value > buckets[-1]["hi"] else 0)
        xm = LEFT + pos * bw
        marks.append(f'<line class="marker" x1="{xm:.1f}" x2="{xm:.1f}" y1="{TOP}" y2="{H - BOTTOM}"/>'
                     f'<text class="marker-label" x="{xm + 3:.1f}" y="{TOP + 12 + 13 * (k % 4)}">{escape(name)} {_fmt(value)}</text>')
    marks.append(f'<text x="{LEFT + plot_w / 2}" y="{H - 6}" text-anchor="middle">{escape(xlabel)}</text>')
    return _frame(marks, ymax, label, "count")


def share_bars(items: list[dict[str, Any]], label: str) -> str:
    """Horizontal bars of automated_share per ASN with the ASN's own baseline as a black tick."""
    if not items:
        return ""
    row_h, left = 22, 230
    height = TOP + row_h * len(items) + 30
    plot_w = W - left - RIGHT
    marks = []
    for i, it in enumerate(items):
        y = TOP + i * row_h
        share = it["automated_share"] or 0
        name = f"AS{it['asn']} {it.get('as_org') or ''}"[:34]
        marks.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{escape(name)}</text>'
                     f'<rect class="mark" x="{left}" y="{y + 3}" width="{max(plot_w * share, 1):.1f}" height="{row_h - 6}" '
                     f'fill="{COLORS["flagged"] if share >= 0.5 else COLORS["bar"]}"><title>{escape(name)}: {share:.0%} automated, '
                     f'{it["requests"]:,} requests</title></rect>')
        if it.get("baseline_share") is not None:
            bx = left + plot_w * it["baseline_share"]
            marks.append(f'<line class="baseline" x1="{bx:.1f}" x2="{bx:.1f}" y1="{y + 1}" y2="{y + row_h - 1}">'
                         f'<title>baseline {it["baseline_share"]:.0%} over {it["baseline_days"]} day(s)</title></line>')
    axis = "".join(f'<text x="{left + plot_w * t:.1f}" y="{height - 8}" text-anchor="middle">{t:.0%}</text>' for t in (0, .25, .5, .75, 1))
    n = len(items)
    return (f'<svg class="chart" data-marks="{n}" viewBox="0 0 {W} {height}" role="img" aria-label="{escape(label)}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(marks)}{axis}</svg>')
