"""Vectorised random building blocks: identifiers, addresses, day-shaped timestamps, sessions.

Every stream is a numpy Generator seeded from (seed, name), so adding a scenario or an attribute
never shifts the numbers another one draws, and a bigger population keeps its first members.
"""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime, time

import numpy as np
import polars as pl

ALNUM = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def stream(*parts: int | str) -> np.random.Generator:
    """An independent generator for one named purpose."""
    words = [p if isinstance(p, int) else zlib.crc32(p.encode()) for p in parts]
    return np.random.default_rng(words)


def day_start_ms(day: date) -> int:
    return int(datetime.combine(day, time(0), tzinfo=UTC).timestamp() * 1000)


def strings(rng: np.random.Generator, n: int, length: int, prefix: str = "", alphabet: np.ndarray = ALNUM) -> np.ndarray:
    """n random strings `prefix + length chars of alphabet`, built without a Python loop."""
    if n == 0:
        return np.array([], dtype=str)
    chars = alphabet[rng.integers(0, len(alphabet), size=(n, length))]
    body = np.ascontiguousarray(chars).view(f"S{length}").ravel().astype(str)
    return np.char.add(prefix, body) if prefix else body


def hex_strings(rng: np.random.Generator, n: int, length: int, prefix: str = "") -> np.ndarray:
    return strings(rng, n, length, prefix, HEX)


def ipv4_text(ints: np.ndarray) -> pl.Series:
    ints = np.asarray(ints, dtype=np.int64)
    octets = [pl.Series(f"o{k}", (ints >> k) & 255).cast(pl.Utf8) for k in (24, 16, 8, 0)]
    return pl.select(pl.concat_str(octets, separator=".").alias("ip")).to_series()


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of `counts` items: each item's group index and its position inside the group."""
    counts = np.asarray(counts, dtype=np.int64)
    group = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    pos = np.arange(int(counts.sum())) - np.repeat(starts, counts)
    return group, pos


def grouped_offsets(gaps: np.ndarray, group: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Cumulative sum of `gaps` restarting at each group (the first item of a group sits at 0)."""
    gaps = np.where(pos == 0, 0, gaps).astype(np.int64)
    total = np.cumsum(gaps)
    first = np.flatnonzero(pos == 0)
    base = total[first][np.searchsorted(first, np.arange(len(gaps)), side="right") - 1]
    return total - base


def _diurnal_weights(tz_hours: int) -> np.ndarray:
    """Share of a person's daily activity in each UTC minute: low at night, a peak mid-afternoon local time."""
    local_hour = (np.arange(1440) / 60.0 + tz_hours) % 24
    w = 0.08 + np.exp(-(((local_hour - 14.5) / 4.0) ** 2)) + 0.45 * np.exp(-(((local_hour - 21.0) / 1.8) ** 2))
    return w / w.sum()


def diurnal_times(rng: np.random.Generator, n: int, tz_hours: np.ndarray | int, start_ms: int) -> np.ndarray:
    """n timestamps (ms) within the day shaped by each one's local time zone."""
    tz = np.broadcast_to(np.asarray(tz_hours, dtype=np.int64), (n,))
    minutes = np.empty(n, dtype=np.int64)
    for zone in np.unique(tz):
        mask = tz == zone
        minutes[mask] = rng.choice(1440, size=int(mask.sum()), p=_diurnal_weights(int(zone)))
    return start_ms + minutes * 60_000 + rng.integers(0, 60_000, size=n)


def lognormal_int(rng: np.random.Generator, median: np.ndarray | float, sigma: np.ndarray | float, n: int,
                  low: int = 1, high: int | None = None) -> np.ndarray:
    values = np.round(np.asarray(median) * np.exp(rng.normal(0.0, 1.0, size=n) * np.asarray(sigma)))
    return np.clip(values, low, high).astype(np.int64)


def pick(rng: np.random.Generator, options: list | tuple | np.ndarray, n: int, p: list[float] | np.ndarray | None = None) -> np.ndarray:
    """n draws from a small list of options (indices drawn, then taken, so any element type works)."""
    arr = np.asarray(options, dtype=object) if not isinstance(options, np.ndarray) else options
    weights = None if p is None else np.asarray(p, dtype=float) / np.sum(p)
    return arr[rng.choice(len(arr), size=n, p=weights)]


def scaled(base: int, scale: float, floor: int = 1) -> int:
    return max(floor, int(round(base * scale)))
