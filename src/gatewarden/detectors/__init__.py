"""The registry of detectors: adding one is a module here and one line in DETECTORS."""

from __future__ import annotations

from gatewarden.detectors.anomaly import Anomaly
from gatewarden.detectors.asn_automation import AsnAutomation
from gatewarden.detectors.auth_abuse import AuthAbuseDetector
from gatewarden.detectors.base import Detector
from gatewarden.detectors.burst import Burst
from gatewarden.detectors.fingerprint_quota import FingerprintQuota
from gatewarden.detectors.graphql import GraphqlDetector
from gatewarden.detectors.ip_token_fanout import IpTokenFanout
from gatewarden.detectors.schema import SchemaDetector
from gatewarden.detectors.sequence import SequenceDetector
from gatewarden.detectors.token_ip_fanout import TokenIpFanout

# One detector per line, in the order they run.
DETECTORS: tuple[type[Detector], ...] = (
    TokenIpFanout,
    IpTokenFanout,
    AsnAutomation,
    FingerprintQuota,
    Burst,
    Anomaly,
    GraphqlDetector,
    AuthAbuseDetector,
    SchemaDetector,
    SequenceDetector,
)


def detector_names() -> list[str]:
    return [d.name for d in DETECTORS]
