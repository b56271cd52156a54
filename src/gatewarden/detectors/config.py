"""Thresholds of every detector, with their defaults and the reasoning behind them."""

from __future__ import annotations

from gatewarden.settings import Section


class DetectorsConfig(Section):
    """One sub-table per detector, `[detectors.<name>]`."""
