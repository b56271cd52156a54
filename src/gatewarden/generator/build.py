"""Assembling a day: run every scenario, keep the day's rows, order them, give each request an id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from gatewarden.generator import writers
from gatewarden.generator.day import Day
from gatewarden.generator.frame import SCHEMA
from gatewarden.generator.rand import DAY_MS, hex_strings
from gatewarden.generator.scenarios import SCENARIOS

FORMATS = ("jsonl", "nginx")


def build_day(day: Day) -> pl.DataFrame:
    rows = pl.concat([make(day).cast(SCHEMA) for _, make in SCENARIOS])
    rows = rows.filter((pl.col("ts_ms") >= day.start_ms) & (pl.col("ts_ms") < day.start_ms + DAY_MS))
    rows = rows.sort("ts_ms", maintain_order=True)
    return rows.with_columns(request_id=pl.Series(hex_strings(day.rng("request_id"), len(rows), 32)))


@dataclass
class Generated:
    rows: pl.DataFrame
    files: list[Path] = field(default_factory=list)

    def scenario_counts(self) -> pl.DataFrame:
        """Per scenario: requests, distinct entities named by the labels, the detector meant to find it."""
        return (self.rows.group_by("scenario")
                .agg(requests=pl.len(), entities=pl.col("entity_value").drop_nulls().n_unique(),
                     scope=pl.col("entity_scope").first(), detector=pl.col("expected_detector").first())
                .with_columns(order=pl.col("scenario").replace_strict({n: i for i, (n, _) in enumerate(SCENARIOS)}))
                .sort("order").drop("order"))


def generate(out: Path, day: date, seed: int, world_seed: int = 7, scale: float = 1.0,
             formats: tuple[str, ...] = FORMATS) -> Generated:
    out.mkdir(parents=True, exist_ok=True)
    rows = build_day(Day(day, seed, world_seed, scale))
    stamp = day.isoformat()
    result = Generated(rows)
    if "jsonl" in formats:
        result.files.append(out / f"requests-{stamp}.jsonl.gz")
        writers.write_jsonl(rows, result.files[-1])
    if "nginx" in formats:
        result.files.append(out / f"access-{stamp}.log.gz")
        writers.write_nginx(rows, result.files[-1])
        result.files.append(out / "nginx.log_format")
        result.files[-1].write_text(writers.NGINX_LOG_FORMAT + "\n")
    result.files.append(out / f"labels-{stamp}.csv.gz")
    writers.write_labels(rows, result.files[-1])
    result.files.append(out / "asn-ranges.tsv")
    writers.write_asn_table(result.files[-1])
    return result


def scenario_table_markdown(counts: pl.DataFrame) -> str:
    lines = ["| scenario | requests | entities | entity scope | expected detector |", "|---|---:|---:|---|---|"]
    for r in counts.iter_rows(named=True):
        lines.append(f"| {r['scenario']} | {r['requests']:,} | {r['entities']:,} | {r['scope'] or ''} | {r['detector'] or ''} |")
    total = int(counts["requests"].sum())
    attacks = int(counts.filter(pl.col("scenario").str.starts_with("attack_"))["requests"].sum())
    lines.append(f"| **total** | {total:,} | | | {attacks:,} attack requests ({attacks / max(total, 1):.1%}) |")
    return "\n".join(lines) + "\n"


