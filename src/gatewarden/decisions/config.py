"""Policy: the action ladder, TTLs, allowlists and the safety valve."""

from __future__ import annotations

from gatewarden.settings import Section


class DecisionsConfig(Section):
    """`[decisions]`."""
