"""SQL fragments the sequence, graphql, schema and auth_abuse detectors share.

Entities are the scopes a gateway can act on; `ENTITY_KEYS` says which `win` column holds each
one's value and how its `match` object (canonical field -> value) is built, so a decision copied
from a finding selects exactly the requests the finding counted.
"""

from __future__ import annotations

from gatewarden.detectors.stats import fingerprint_match, sample_ids


def stable_mode(expr: str) -> str:
    """Aggregate SQL: the most frequent non-NULL value of `expr`, the smallest of those tied. DuckDB's mode() gives
    a tie to whichever thread's partial count arrives first, so the same day could name another user agent from
    one run to the next; counting with histogram() costs the same and leaves nothing to chance."""
    return (f"(list_sort(list_transform(map_entries(histogram({expr})), "
            f"lambda e: struct_pack(n := -CAST(e.value AS BIGINT), k := e.key))))[1].k")


# scope -> (expression over `win` giving the entity value, JSON `match` expression over aggregates)
ENTITY_KEYS: dict[str, tuple[str, str]] = {
    "token": ("token", "json_object('token', value)"),
    "ip": ("client_ip", "json_object('client_ip', value)"),
    "cidr": ("net", "json_object('client_ip', value)"),
    # A fingerprint is a hash of TLS stack + browser build + language + network kind; a gateway matches it on
    # the raw fields it stands for, as most of the entity's requests sent them (NULL members left out).
    "fingerprint": ("fingerprint", "CAST(" + fingerprint_match(*(stable_mode(c) for c in (
        "ja4", "ja3", "user_agent", "accept_language"))) + " AS JSON)"),
}


def robust_threshold(source: str, col: str, k: float, floor: float, min_population: int = 5) -> str:
    """A one-row relation (med, mad, threshold) over `source`: threshold = max(floor, median + k * 1.4826 * MAD).

    1.4826 * MAD estimates the standard deviation of the normal bulk while ignoring the outliers we
    look for, so a few heavy hitters cannot raise their own bar; `floor` keeps a degenerate population
    (MAD 0: everyone sent the same) from flagging the first entity one above the median. Below
    `min_population` entities there is no distribution to speak of, and the floor alone applies.
    """
    return f"""(SELECT med, mad, CASE WHEN n < {int(min_population)} THEN {float(floor)!r}
                                   ELSE greatest({float(floor)!r}, med + {float(k)!r} * 1.4826 * mad) END AS threshold
        FROM (SELECT m.med, m.n, median(abs(s.{col} - m.med)) AS mad
              FROM {source} s, (SELECT median({col}) AS med, count(*) AS n FROM {source}) m GROUP BY m.med, m.n))"""


def outlier_findings(*, detector: str, scope: str, metric: str, rows_sql: str, counted: str, k: float, floor: float,
                     severity: str, extra: dict[str, str] | None = None, having: str = "true", window_hours: float,
                     observed: str | None = None) -> str:
    """SELECT of FINDING_COLUMNS: entities of `scope` whose count of `counted` rows reaches the robust threshold
    of the population of entities with at least one such row.

    `rows_sql` selects `win`-shaped rows (plus any flag columns `counted` and `extra` use); `extra` maps
    names to aggregate SQL kept in `details` and usable in `severity` and `having`, which may also use
    `observed`, `threshold` and `score`. `observed` replaces the count with another aggregate over the entity's
    `counted` rows (e.g. a peak rate); an entity without such rows has nothing to report.
    """
    col, match = ENTITY_KEYS[scope]
    extra = extra or {}
    extra_aggs = "".join(f", {sql} AS {name}" for name, sql in extra.items())
    extra_json = "".join(f", '{name}', {name}" for name in extra)
    # Two passes over the rows: the first computes `observed` from the counted rows only (cheap, narrow), the second
    # builds the evidence (sample ids, match, extras: lists, modes) only for the few entities over the threshold.
    # NOT MATERIALIZED keeps `src` a view, so each pass reads only the columns it needs.
    return f"""SELECT * FROM (
    WITH src AS NOT MATERIALIZED (SELECT *, {col} AS value FROM ({rows_sql}) r WHERE {col} IS NOT NULL),
    obs AS (SELECT value, {observed or "count(*)"} AS observed FROM src WHERE {counted} GROUP BY value),
    pop AS (SELECT * FROM obs WHERE observed > 0),
    thr AS {robust_threshold('pop', 'observed', k, floor)},
    over AS (SELECT obs.value, obs.observed, thr.threshold, thr.med, thr.mad, (SELECT count(*) FROM pop) AS population,
                    obs.observed / thr.threshold AS score
             FROM obs, thr WHERE obs.observed >= thr.threshold),
    agg AS (
        SELECT value, count(*) AS requests, sum(cost) AS cost,
               min(ts) AS first_seen, max(ts) AS last_seen, {sample_ids(counted)} AS sample_request_ids,
               {match} AS match{extra_aggs}
        FROM src SEMI JOIN over USING (value) GROUP BY value),
    scored AS (SELECT agg.*, over.* EXCLUDE (value) FROM agg JOIN over USING (value))
    SELECT '{detector}' AS detector, '{scope}' AS scope, value, '{metric}' AS metric, CAST(observed AS DOUBLE) AS observed,
           threshold, score, {severity} AS severity, requests, cost, first_seen, last_seen, sample_request_ids, match,
           json_object('population', population, 'population_median', med, 'population_mad', mad,
                       'threshold_rule', 'max(floor {float(floor):g}, median + {float(k):g} x 1.4826 x MAD), the floor alone'
                                         ' under 5 entities',
                       'window_hours', {float(window_hours)!r}{extra_json}) AS details
    FROM scored WHERE {having})"""
