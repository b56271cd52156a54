"""SQL building blocks the detectors share: robust thresholds, confidence bounds, severities, and
the one SELECT that turns a candidates table into FINDING_COLUMNS.

Robust statistics because the population being measured contains the attackers: a median and a
MAD move little when a few percent of the entities are abusive, a mean and a standard deviation
move a lot. Fan-out style counts are heavy-tailed, so they are judged on a log1p scale.
"""

from __future__ import annotations

MAD_TO_SIGMA = 1.4826  # MAD x this estimates the standard deviation of a normal distribution


def log_mad_threshold(expr: str, k: float, floor: float) -> str:
    """Aggregate SQL: `exp(median(log1p x) + k * sigma_MAD(log1p x))`, never below `floor`.

    A multiplicative band: with k=4 an entity must sit about four robust standard deviations above
    the typical entity on a log scale, whatever the day's size.
    """
    return f"greatest({floor!r}, exp(median(ln(1 + {expr})) + {k!r} * {MAD_TO_SIGMA} * mad(ln(1 + {expr}))) - 1)"


def wilson_lower(successes: str, n: str, z: float) -> str:
    """Wilson score lower bound of a proportion: the share we are confident the true rate exceeds."""
    p = f"(CAST({successes} AS DOUBLE) / nullif({n}, 0))"
    z2 = z * z
    return (f"(({p} + {z2!r} / (2 * {n}) - {z!r} * sqrt({p} * (1 - {p}) / {n} + {z2!r} / (4 * {n} * {n}))) "
            f"/ (1 + {z2!r} / {n}))")


def severity(score: str, medium_at: float, high_at: float, high_allowed: str = "true") -> str:
    """low / medium / high from a score (observed / threshold); high only where `high_allowed` holds."""
    return (f"CASE WHEN {score} >= {high_at!r} AND ({high_allowed}) THEN 'high' "
            f"WHEN {score} >= {medium_at!r} THEN 'medium' ELSE 'low' END")


SAMPLE_COLUMNS = ("ts", "request_id", "source_file", "source_line")  # what sample_ids reads


def sample_ids(where: str = "true") -> str:
    """Aggregate SQL: up to five request ids of the group's rows matching `where`, earliest first
    (deterministic). Logs without request ids (plain nginx/Apache) point at file:line instead.
    min_by keeps only the five while scanning, and only those five are formatted."""
    return (
        "list_transform(min_by(struct_pack(request_id := request_id, source_file := source_file, source_line := source_line), "
        f"struct_pack(ts := ts, source_file := source_file, source_line := source_line), 5) FILTER (WHERE {where}), "
        "lambda r: coalesce(r.request_id, regexp_extract(r.source_file, '[^/]+$') || ':' || CAST(r.source_line AS VARCHAR)))"
    )


def findings_select(detector: str, candidates: str, key: str) -> str:
    """FINDING_COLUMNS for each row of `candidates`, joined to the requests of `win` it stands for.

    `candidates` must have: scope, value, metric, observed, threshold, severity, match (JSON text),
    details (JSON text). `key` is the `win` expression whose value equals `candidates.value`.
    Requests, cost, first/last seen and sample ids (`sample_ids`) come from `win`.
    """
    return f"""
    SELECT '{detector}' AS detector, c.scope, c.value, c.metric,
           CAST(c.observed AS DOUBLE) AS observed, CAST(c.threshold AS DOUBLE) AS threshold,
           round(CAST(c.observed AS DOUBLE) / nullif(c.threshold, 0), 4) AS score, c.severity,
           a.requests, round(round(a.cost, 9), 6) AS cost, a.first_seen, a.last_seen, a.sample_request_ids,
           CAST(c.match AS JSON) AS match, CAST(c.details AS JSON) AS details
    FROM {candidates} c
    JOIN (
        SELECT CAST({key} AS VARCHAR) AS k, count(*) AS requests, sum(cost) AS cost, min(ts) AS first_seen, max(ts) AS last_seen,
               {sample_ids()} AS sample_request_ids
        FROM win WHERE CAST({key} AS VARCHAR) IN (SELECT value FROM {candidates})
        GROUP BY 1
    ) a ON a.k = c.value
    """


def fingerprint_match(ja4: str, ja3: str, user_agent: str, accept_language: str) -> str:
    """SQL for a fingerprint's `match`: a JSON object of the raw fields it stands for, NULL members left out.
    JA3 is named only when there is no JA4 (the fingerprint hashes one TLS fingerprint, JA4 first)."""
    members = [f"'\"ja4\":' || to_json({ja4})", f"'\"ja3\":' || to_json(CASE WHEN {ja4} IS NULL THEN {ja3} END)",
               f"'\"user_agent\":' || to_json({user_agent})", f"'\"accept_language\":' || to_json({accept_language})"]
    return "'{' || array_to_string(list_filter([" + ", ".join(members) + "], lambda x: x IS NOT NULL), ',') || '}'"
