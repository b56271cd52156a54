"""One generated day: its date, seeds, scale and world, shared by every scenario."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np

from gatewarden.generator.rand import day_start_ms, scaled, stream
from gatewarden.generator.world import World


@dataclass
class Day:
    day: date
    seed: int
    world_seed: int = 7
    scale: float = 1.0
    world: World = field(init=False)

    def __post_init__(self) -> None:
        self.world = World(self.world_seed, self.scale)

    @cached_property
    def start_ms(self) -> int:
        return day_start_ms(self.day)

    def rng(self, *name: str) -> np.random.Generator:
        """The day's stream for one purpose: the seed decides the traffic, the world seed only who exists."""
        return stream(self.seed, *name)

    def count(self, base: int, floor: int = 1) -> int:
        """A benign volume: proportional to the scale."""
        return scaled(base, self.scale, floor)

    def size(self, rng: np.random.Generator, low: int, high: int) -> int:
        """An attack's size: drawn from [low, high] so each seed differs (log-uniform: small and large
        attacks equally likely), then moderated by the scale so a small test day is not all attack."""
        drawn = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        return max(2, int(round(drawn * min(1.0, self.scale) ** 0.5 * max(1.0, self.scale) ** 0.25)))
