"""Policy: the action ladder, TTLs, allowlists and the safety valve."""

from __future__ import annotations

from pydantic import Field

from gatewarden.settings import Section


class VerifiedCrawler(Section):
    """A crawler whose requests are trusted only when both its User-Agent and its network check out."""

    name: str = Field(description="Label shown in explanations, e.g. `googlebot`.")
    user_agent: str = Field(description="Regex (case-insensitive) the User-Agent must match.")
    cidrs: list[str] = Field(default_factory=list, description="Published IP ranges of the crawler.")
    asns: list[int] = Field(default_factory=list, description="ASNs the crawler operates from.")


class AllowlistConfig(Section):
    """`[decisions.allowlist]`: entities that never get a decision, whatever the findings say."""

    ips: list[str] = Field(default_factory=list, description="IPv4/IPv6 addresses or CIDRs (monitoring, partners, offices).")
    asns: list[int] = Field(default_factory=list, description="Whole networks never acted on (e.g. your own cloud).")
    tokens: list[str] = Field(default_factory=list, description="Token identities as stored (`key_...`, `jwt:sub`, `h:...`).")
    crawlers: list[VerifiedCrawler] = Field(
        default_factory=list,
        description="Verified crawlers in addition to the bundled legit-bot lists (UA regex + published ranges or ASNs).",
    )
    use_bundled_crawlers: bool = Field(True, description="Also trust the verified-crawler data shipped in gatewarden.enrich.")


class DecisionsConfig(Section):
    """`[decisions]`."""

    ttl_s: dict[str, int] = Field(
        default_factory=lambda: {"throttle": 3600 * 6, "challenge": 3600 * 24, "block": 3600 * 24},
        description="Base TTL per action in seconds. A nightly run re-issues what is still active, so a day covers one cycle.",
    )
    escalation_factor: float = Field(
        2.0, ge=1, description="Repeat offenders: TTL x factor per previous offence (CrowdSec's bantime increment)."
    )
    max_ttl_s: int = Field(3600 * 24 * 30, ge=60, description="Cap on an escalated TTL (30 days).")
    supporting_detectors: list[str] = Field(
        default_factory=lambda: ["anomaly"],
        description="Detectors that add evidence but never cause a decision, nor count as an independent signal.",
    )
    block_min_detectors: int = Field(
        2, ge=2, description="Independent detectors needed to block without a high-severity finding."
    )
    medium_action: str = Field("challenge", pattern="^(challenge|throttle)$", description="Action for one medium-severity signal.")
    low_action: str = Field(
        "none", pattern="^(challenge|throttle|none)$",
        description="Action for low-severity signals alone. `none`: a low finding is a hint (shown by `findings`, `explain` "
        "and the report) but acts on nobody, because one weak signal, e.g. machine-regular timing, also fits good customers.",
    )
    throttle_headroom: float = Field(
        1.0, gt=0, description="A throttled entity is limited to headroom x the recommended per-minute limit for its key."
    )
    throttle_fallback_per_min: int = Field(
        30, ge=1, description="Per-minute limit for a throttle when tonight's rate limits have no recommendation for its key."
    )
    merge_ipv4_min_ips: int = Field(
        8, ge=2, description="IPv4 decisions in one /24 merged into a cidr decision when at least this many addresses misbehave "
        "and no other address of the /24 sent traffic in the window."
    )
    safety_max_clean_share: float = Field(
        0.01, ge=0, le=1, description="Safety valve: most share of the window's legitimate-looking requests (and tokens: "
        "established tokens and browsing clients not accused themselves) that block/challenge decisions may stop; "
        "beyond it nothing is written and the run exits 3."
    )
    narrow_broad: bool = Field(
        True, description="Replace an ASN/fingerprint decision that would stop legitimate-looking traffic by decisions on its "
        "networks (/24, /64) without any; false acts on the whole ASN/fingerprint and leaves the judgement to the safety valve."
    )
    rate_limit_headroom: float = Field(
        2.0, ge=1, description="Recommended rate limit = p99 of legitimate entities' peak per window x this headroom "
        "(covers bucket alignment: a sliding window's peak can be up to twice a tumbling bucket's, and growth)."
    )
    rate_limit_min_entities: int = Field(5, ge=1, description="No recommendation from fewer legitimate entities than this.")
    allowlist: AllowlistConfig = AllowlistConfig()
