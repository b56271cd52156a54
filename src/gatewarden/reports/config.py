"""Report settings."""

from __future__ import annotations

from gatewarden.settings import Section


class ReportsConfig(Section):
    """`[reports]`."""
