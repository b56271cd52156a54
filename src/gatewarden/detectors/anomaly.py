"""anomaly: tokens and addresses whose overall behaviour is unlike everyone else's (IsolationForest).

A supporting signal: it says "this entity is unusual" without saying why it is abuse, so it never
rises above medium on its own; decisions use it to corroborate other detectors. Each entity is a
small vector of behaviour (volume, breadth, errors, automation, fan-out, cost, timing regularity)
computed in SQL; only these per-entity rows reach Python. The forest is seeded, so a re-run gives
the same findings. The finding's details name the features that deviate most (robust z-scores).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
from pydantic import Field

from gatewarden.detectors.base import Detector, Window
from gatewarden.detectors.stats import MAD_TO_SIGMA, findings_select
from gatewarden.settings import DetectorSettings

FEATURES = ("log_requests", "endpoints", "error_share", "automated_share", "fanout", "log_cost", "timing_cv", "static_share",
            "active_hours")
# scope -> (win key, the other side counted as fan-out)
ENTITIES = {"token": ("token", "client_ip"), "ip": ("client_ip", "token")}


class Settings(DetectorSettings):
    min_requests: int = Field(10, ge=2, description="Entities with fewer requests have too little behaviour to compare.")
    min_entities: int = Field(50, ge=10, description="Below this many entities per scope there is no population to learn from.")
    k: float = Field(4.0, gt=0, description="Robust standard deviations above the median anomaly score to report.")
    medium_score: float = Field(1.25, ge=1, description="Observed/threshold at which the finding is medium (never high).")
    trees: int = Field(200, ge=10, description="Trees in the forest; more is steadier and slower.")
    seed: int = Field(7, description="random_state of the forest: same data, same findings.")


class Anomaly(Detector):
    name = "anomaly"
    summary = "Tokens and addresses whose behaviour vector is an outlier (IsolationForest); supporting evidence only."

    def findings_sql(self, con: duckdb.DuckDBPyConnection, window: Window) -> str | None:
        s: Settings = self.settings  # type: ignore[assignment]
        parts = []
        for scope, (key, other) in ENTITIES.items():
            # The inter-arrival gaps need the entity's requests in time order: only (entity, ts) goes through that
            # sort, the other features are plain aggregates (sorting whole rows took 12 s per 10M requests).
            table = con.sql(f"""
                WITH timing AS (
                    SELECT value, coalesce(stddev_pop(gap) / nullif(avg(gap), 0), 0) AS timing_cv
                    FROM (SELECT {key} AS value, epoch(ts - lag(ts) OVER (PARTITION BY {key} ORDER BY ts)) AS gap
                          FROM win WHERE {key} IS NOT NULL)
                    GROUP BY value),
                entity AS (
                    SELECT {key} AS value, ln(count(*)) AS log_requests, count(DISTINCT endpoint) AS endpoints,
                           avg(CASE WHEN status >= 400 THEN 1.0 ELSE 0.0 END) AS error_share, avg(automated) AS automated_share,
                           count(DISTINCT {other}) AS fanout, ln(1 + 1000 * sum(cost)) AS log_cost,
                           avg(CASE WHEN is_static THEN 1.0 ELSE 0.0 END) AS static_share,
                           count(DISTINCT date_trunc('hour', ts)) AS active_hours
                    FROM win WHERE {key} IS NOT NULL GROUP BY {key} HAVING count(*) >= {s.min_requests})
                SELECT CAST(e.value AS VARCHAR) AS value, e.log_requests, e.endpoints, e.error_share, e.automated_share,
                       e.fanout, e.log_cost, t.timing_cv, e.static_share, e.active_hours
                FROM entity e JOIN timing t USING (value) ORDER BY e.value""").to_arrow_table()
            if table.num_rows < s.min_entities:
                continue
            x = np.column_stack([np.asarray(table.column(f).to_numpy(zero_copy_only=False), dtype=float) for f in FEATURES])
            x = np.nan_to_num(x)
            # Imported here: scikit-learn takes seconds to import, and every CLI command (even ingest) loads the detector registry.
            from sklearn.ensemble import IsolationForest

            forest = IsolationForest(n_estimators=s.trees, random_state=s.seed, contamination="auto").fit(x)
            score = -forest.score_samples(x)  # higher = more isolated
            median = float(np.median(score))
            threshold = median + s.k * MAD_TO_SIGMA * float(np.median(np.abs(score - median)))
            center = np.median(x, axis=0)
            spread = MAD_TO_SIGMA * np.median(np.abs(x - center), axis=0)
            z = (x - center) / np.where(spread > 0, spread, 1.0)
            chosen = np.flatnonzero(score >= threshold)
            if not len(chosen):
                continue
            reasons = []
            for i in chosen:
                top = np.argsort(-np.abs(z[i]))[:3]
                reasons.append("{" + ",".join(f'"{FEATURES[j]}":{{"value":{x[i, j]:.4g},"robust_z":{z[i, j]:.3g}}}' for j in top) + "}")
            con.register(f"gw_anomaly_{scope}_raw", pa.table({
                "value": table.column("value").take(pa.array(chosen)),
                "observed": pa.array(score[chosen]),
                "top_features": pa.array(reasons),
            }))
            con.execute(f"""
            CREATE OR REPLACE TEMP TABLE gw_anomaly_{scope} AS
            SELECT '{scope}' AS scope, value, 'isolation_score' AS metric, observed, {threshold!r} AS threshold,
                   CASE WHEN observed >= {s.medium_score} * {threshold!r} THEN 'medium' ELSE 'low' END AS severity,
                   json_object('{key}', value) AS match,
                   json_object('window_hours', {window.hours}, 'entities', {table.num_rows}, 'median_score', {median!r},
                               'k', {s.k}, 'most_unusual_features', json(top_features),
                               'note', 'supporting signal: corroborates other detectors, never blocks alone') AS details
            FROM gw_anomaly_{scope}_raw""")
            con.unregister(f"gw_anomaly_{scope}_raw")
            parts.append(findings_select(self.name, f"gw_anomaly_{scope}", key))
        return " UNION ALL ".join(parts) if parts else None
