"""A decision as the policy builds it: one entity, one action, its reasons and its evidence."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from gatewarden.detectors.base import Window

LADDER = ("throttle", "challenge", "block")  # weakest first
SCOPE_ORDER = ("ip", "cidr", "asn", "token", "fingerprint", "session")


def rank(action: str) -> int:
    return LADDER.index(action)


def decision_id(scope: str, value: str, window: Window) -> str:
    basis = f"{scope}|{value}|{window.start.isoformat()}|{window.end.isoformat()}"
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


@dataclass
class Decision:
    id: str
    scope: str
    value: str
    action: str
    match: dict
    reasons: list[dict]  # {detector, metric, value, threshold, severity, window}
    requests: int
    first_seen: datetime | None
    last_seen: datetime | None
    cost: float
    window: Window
    status: str = "active"
    status_reason: str | None = None
    offence_count: int = 1
    ttl_s: int = 0
    expires_at: datetime | None = None
    limit_requests: int | None = None
    limit_per_s: int | None = None
    reissued: bool = False
    members: list[str] = field(default_factory=list)  # addresses merged into a cidr decision

    @property
    def detectors(self) -> list[str]:
        return sorted({r["detector"] for r in self.reasons})

    def sort_key(self) -> tuple:
        scope_rank = SCOPE_ORDER.index(self.scope) if self.scope in SCOPE_ORDER else len(SCOPE_ORDER)
        return (scope_rank, self.scope, self.value)
