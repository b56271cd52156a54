"""asn_automation: networks (ASNs) whose traffic is far more automated than everyone else's.

Each ASN's share of automated requests (CDN bot score where logged, else gatewarden's own
`automated` evidence >= 0.5) is compared with the day's global share. A Wilson lower bound keeps
small ASNs from being judged on noise: an ASN is reported when we are confident (z) its true share
is above the baseline by a margin. An ASN-wide action hits everyone there, so high severity needs an
extreme share AND little collateral: few requests from established customers (hosting ASNs carry
legitimate SDK traffic that is automated by nature) or declared crawlers.
"""

from __future__ import annotations

import duckdb
from pydantic import Field

from gatewarden.detectors.base import Detector, Window
from gatewarden.detectors.stats import findings_select, wilson_lower
from gatewarden.settings import DetectorSettings


class Settings(DetectorSettings):
    z: float = Field(2.58, gt=0, description="Confidence of the Wilson lower bound (2.58 = 99%).")
    margin: float = Field(
        0.5, gt=0, le=1, description="Report when the lower bound exceeds baseline + margin x (1 - baseline): halfway from "
        "the typical share to all-automated (30% -> 65%).",
    )
    extreme: float = Field(
        0.75, gt=0, le=1, description="High severity needs the lower bound above baseline + extreme x (1 - baseline) "
        "(30% -> 82.5%) ...",
    )
    max_collateral_share: float = Field(
        0.15, ge=0, le=1, description="... and at most this share of the ASN's requests from established customers' tokens "
        "(steady over customer_min_hours hours from at most two networks) and declared crawlers.",
    )
    customer_min_hours: int = Field(3, ge=1, description="Active hours that make a token an established customer, not a burner.")
    min_spread_ips: int = Field(
        20, ge=1, description="High severity also needs the ASN's traffic spread over at least this many addresses: "
        "automation from a few addresses (one customer's servers, one farm) is better handled per address or token.",
    )
    min_requests_share: float = Field(
        0.001, ge=0, le=1, description="An ASN needs this share of the day's requests (and min_requests) to be judged."
    )
    min_requests: int = Field(50, ge=1, description="Absolute minimum requests per ASN, for small days.")


class AsnAutomation(Detector):
    name = "asn_automation"
    summary = "An ASN whose automated share is far above the day's baseline (bot farms in hosting networks)."

    def findings_sql(self, con: duckdb.DuckDBPyConnection, window: Window) -> str | None:
        s: Settings = self.settings  # type: ignore[assignment]
        lower = wilson_lower("a.automated", "a.requests", s.z)
        con.execute(f"""
        CREATE OR REPLACE TEMP TABLE gw_asn_candidates AS
        WITH r AS (SELECT *, automated >= 0.5 AS is_auto FROM win WHERE asn IS NOT NULL),
        customers AS (
            -- Tokens that look like established customers, automated or not: steady over hours from a few networks.
            -- Their requests, and declared crawlers', are the collateral of an ASN-wide action.
            SELECT token FROM win WHERE token IS NOT NULL GROUP BY token
            HAVING count(DISTINCT net) <= 2 AND count(DISTINCT date_trunc('hour', ts)) >= {s.customer_min_hours}
        ),
        a AS (
            SELECT asn, any_value(as_org) AS as_org, bool_or(is_hosting) AS is_hosting, count(*) AS requests,
                   count(*) FILTER (WHERE is_auto) AS automated, count(DISTINCT token) AS tokens,
                   count(DISTINCT client_ip) AS ips,
                   count(*) FILTER (WHERE token IN (SELECT token FROM customers) OR ua_class = 'bot') AS collateral_requests,
                   count(DISTINCT token) FILTER (WHERE token IN (SELECT token FROM customers)) AS collateral_tokens
            FROM r GROUP BY asn
        ),
        g AS (SELECT avg(CASE WHEN automated >= 0.5 THEN 1.0 ELSE 0.0 END) AS baseline, count(*) AS total FROM win),
        j AS (
            SELECT a.*, g.baseline, g.total, {lower} AS lower_bound,
                   g.baseline + {s.margin} * (1 - g.baseline) AS threshold,
                   g.baseline + {s.extreme} * (1 - g.baseline) AS extreme_at,
                   CAST(a.collateral_requests AS DOUBLE) / a.requests AS collateral_share
            FROM a CROSS JOIN g
            WHERE a.requests >= greatest({s.min_requests}, {s.min_requests_share} * g.total)
        )
        SELECT 'asn' AS scope, CAST(asn AS VARCHAR) AS value, 'automated_share_lower_bound' AS metric,
               lower_bound AS observed, threshold,
               CASE WHEN lower_bound >= extreme_at AND collateral_share <= {s.max_collateral_share}
                         AND ips >= {s.min_spread_ips} THEN 'high'
                    WHEN lower_bound >= extreme_at THEN 'medium' ELSE 'low' END AS severity,
               json_object('asn', asn) AS match,
               json_object('window_hours', {window.hours}, 'as_org', as_org, 'is_hosting', is_hosting,
                           'automated_share', round(CAST(automated AS DOUBLE) / requests, 4),
                           'automated_requests', automated, 'baseline_share', round(baseline, 4), 'z', {s.z},
                           'extreme_at', round(extreme_at, 4), 'distinct_tokens', tokens, 'distinct_ips', ips,
                           'collateral_requests', collateral_requests, 'collateral_tokens', collateral_tokens,
                           'collateral_share', round(collateral_share, 4),
                           'recommendation', CASE WHEN lower_bound >= extreme_at AND collateral_share <= {s.max_collateral_share}
                                                       AND ips >= {s.min_spread_ips} THEN 'asn-wide challenge or block'
                                                  ELSE 'act on the automated entities inside, not the ASN' END) AS details
        FROM j WHERE lower_bound >= threshold
        """)
        return findings_select(self.name, "gw_asn_candidates", "asn")
