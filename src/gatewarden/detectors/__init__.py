"""The registry of detectors: adding one is a module here and one line in DETECTORS."""

from __future__ import annotations

from gatewarden.detectors.base import Detector
from gatewarden.detectors.graphql import GraphqlDetector

# One detector per line, in the order they run.
DETECTORS: tuple[type[Detector], ...] = (
    GraphqlDetector,
)


def detector_names() -> list[str]:
    return [d.name for d in DETECTORS]
