"""Base class for every config section: strict, typed, documented.

Each stage keeps its own section next to its code (detectors/config.py, decisions/config.py,
...); `gatewarden.config.Config` assembles them into the one object loaded from TOML.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config table. Unknown keys are errors, so a typo never silently falls back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class DetectorSettings(Section):
    """Fields every detector has."""

    enabled: bool = True
