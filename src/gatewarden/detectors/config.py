"""Every detector's thresholds, assembled into `[detectors.<name>]` config tables.

Each detector keeps its `Settings` class (fields, defaults and the reasoning behind them) in
its own module; this file only lists them, one line per detector.
"""

from __future__ import annotations

from gatewarden.settings import Section


class DetectorsConfig(Section):
    """One sub-table per detector, `[detectors.<name>]`."""
