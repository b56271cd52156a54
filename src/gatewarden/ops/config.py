"""Settings for nightly operation: raw-data retention and how rate limits move between nights."""

from __future__ import annotations

from pydantic import Field

from gatewarden.settings import Section


class OperationsConfig(Section):
    """`[operations]`."""

    keep_days: int | None = Field(
        None, ge=1,
        description="Keep raw requests for this many days before the newest day in the data; older ones are deleted by "
        "`gatewarden prune` and `run --keep-days`. Daily per-entity aggregates, thresholds and decisions are kept. "
        "Default: keep everything.",
    )
    baseline_days: int = Field(
        28, ge=1, description="How many earlier days of daily aggregates make an entity's or an ASN's baseline."
    )
    rate_limit_alpha: float = Field(
        0.5, gt=0, le=1,
        description="EWMA weight of tonight's recommended rate limit against the previous nights' smoothed limit "
        "(1 = ignore history).",
    )
    rate_limit_max_up: float = Field(
        1.5, ge=1, description="A smoothed rate limit rises by at most this factor per night, so one quiet night cannot "
        "open the gate wide.",
    )
    rate_limit_max_down: float = Field(
        0.67, gt=0, le=1, description="A smoothed rate limit falls to no less than this factor of last night's per night, "
        "so one noisy night cannot strangle legitimate callers.",
    )
