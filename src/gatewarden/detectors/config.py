"""Every detector's thresholds, assembled into `[detectors.<name>]` config tables.

Each detector keeps its `Settings` class (fields, defaults and the reasoning behind them) in
its own module; this file only lists them, one line per detector.
"""

from __future__ import annotations

from pydantic import Field

from gatewarden.detectors import anomaly as anomaly_detector
from gatewarden.detectors import asn_automation as asn_automation_detector
from gatewarden.detectors import auth_abuse as auth_abuse_detector
from gatewarden.detectors import burst as burst_detector
from gatewarden.detectors import fingerprint_quota as fingerprint_quota_detector
from gatewarden.detectors import graphql as graphql_detector
from gatewarden.detectors import ip_token_fanout as ip_token_fanout_detector
from gatewarden.detectors import schema as schema_detector
from gatewarden.detectors import sequence as sequence_detector
from gatewarden.detectors import token_ip_fanout as token_ip_fanout_detector
from gatewarden.settings import Section


class CostSettings(Section):
    """`[detectors.cost]`: what one request costs the operator, so findings and limits can be ranked by money."""

    per_endpoint: dict[str, float] = Field(
        default_factory=dict,
        description="Endpoint template -> cost per call, e.g. {'/v1/chat/completions' = 0.002}. Wins over the estimate below.",
    )
    per_second: float = Field(
        0.0005, ge=0,
        description="Estimated cost of one second of request duration. Generative calls cost GPU time roughly in "
        "proportion to how long they run, so duration_ms is the best proxy a log carries.",
    )
    per_call: float = Field(
        0.00001, ge=0, description="Floor cost of any call (edge, auth, logging), also used when duration is missing."
    )
    static: float = Field(0.0, ge=0, description="Cost of a static asset request (served from cache).")


class DetectorsConfig(Section):
    """One sub-table per detector, `[detectors.<name>]`, plus `[detectors.cost]` (per-request cost estimate)."""

    cost: CostSettings = CostSettings()
    token_ip_fanout: token_ip_fanout_detector.Settings = token_ip_fanout_detector.Settings()
    ip_token_fanout: ip_token_fanout_detector.Settings = ip_token_fanout_detector.Settings()
    asn_automation: asn_automation_detector.Settings = asn_automation_detector.Settings()
    fingerprint_quota: fingerprint_quota_detector.Settings = fingerprint_quota_detector.Settings()
    burst: burst_detector.Settings = burst_detector.Settings()
    anomaly: anomaly_detector.Settings = anomaly_detector.Settings()
    graphql: graphql_detector.Settings = graphql_detector.Settings()
    auth_abuse: auth_abuse_detector.Settings = auth_abuse_detector.Settings()
    schema: schema_detector.Settings = schema_detector.Settings()
    sequence: sequence_detector.Settings = sequence_detector.Settings()
