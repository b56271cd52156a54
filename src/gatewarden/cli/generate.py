"""`gatewarden generate`: a seeded synthetic day of traffic with ground-truth labels."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gatewarden.cli.common import QuietOption, handles_errors, out
from gatewarden.errors import UsageError


def parse_formats(value: str) -> tuple[str, ...]:
    from gatewarden.generator.build import FORMATS

    chosen = tuple(dict.fromkeys(f.strip() for f in value.split(",") if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise UsageError(f"--formats {value!r} names no known format.", f"Use a comma-separated subset of: {', '.join(FORMATS)}.")
    return chosen


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--day {value!r} is not a date.", "Write it as YYYY-MM-DD, e.g. --day 2026-11-20.") from None


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def generate(
        out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the day's files into.")],
        day: Annotated[str, typer.Option("--day", help="The day to generate (UTC), YYYY-MM-DD.")] = "2026-11-20",
        seed: Annotated[int, typer.Option("--seed", help="Fixes the day's traffic and its attacks (sizes, actors, timing).")] = 1,
        world_seed: Annotated[int, typer.Option("--world-seed", help="Fixes the population: customers, their keys, "
                                                "addresses and networks. Keep it to get consecutive days of the same world.")] = 7,
        scale: Annotated[float, typer.Option("--scale", min=0.01, help="Benign volume multiplier: 1.0 is ~27k requests, "
                                             "75 about a million. Attacks grow more slowly.")] = 1.0,
        formats: Annotated[str, typer.Option("--formats", help="Comma-separated: jsonl (canonical), nginx "
                                             "(access log + nginx.log_format).")] = "jsonl,nginx",
        quiet: QuietOption = False,
    ) -> None:
        """Generate a realistic day of traffic for a fictional generative-AI API, with labels.

        Writes requests-DAY.jsonl.gz (canonical JSONL), access-DAY.log.gz with nginx.log_format,
        labels-DAY.csv.gz (scenario, entity and expected detector of every request) and
        asn-ranges.tsv (the world's networks, iptoasn format, for `gatewarden asn import`).
        The same arguments always give byte-identical files.

        Examples:

          gatewarden generate --out sample_logs

          gatewarden generate --out /tmp/day2 --day 2026-11-21 --seed 2

          gatewarden generate --out /tmp/big --scale 40 --formats nginx
        """
        from gatewarden.generator.build import generate as run

        result = run(out_dir, parse_day(day), seed, world_seed, scale, parse_formats(formats))
        if quiet:
            return
        table = Table(title=f"generated {day} (seed {seed}, world seed {world_seed}, scale {scale:g})", title_justify="left")
        for col, justify in (("scenario", "left"), ("requests", "right"), ("entities", "right"), ("scope", "left"),
                             ("expected detector", "left")):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        counts = result.scenario_counts()
        for r in counts.iter_rows(named=True):
            style = "red" if r["scenario"].startswith("attack_") else ""
            table.add_row(f"[{style}]{r['scenario']}[/]" if style else r["scenario"], f"{r['requests']:,}", f"{r['entities']:,}",
                          r["scope"] or "", r["detector"] or "")
        table.add_row("[bold]total", f"{len(result.rows):,}", "", "", "")
        out.print(table)
        for path in result.files:
            out.print(f"wrote {path} ({path.stat().st_size:,} bytes)")
