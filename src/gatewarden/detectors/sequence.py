"""sequence: sessions that move through the API unlike the window's population.

Sessions are `win.session` (session cookie, token or fingerprint@ip, cut after 30 minutes of
inactivity); static assets are left out of the sequences. Three signals, all learned from the
window's own sessions:

- surprise: a first-order Markov model of endpoint transitions (a start state `^` included), with
  additive smoothing; a session's surprise is its mean negative log-likelihood per step, compared
  with the population of sessions long enough to judge (median + k MAD);
- both models are learned per client class (browser, sdk, automation, ... from features.py): a web
  app's users walk pages, login and model lists before generating, SDK clients call the API directly;
- precedence: for each endpoint, the endpoints that usually come before it in the same session
  (share of its sessions >= `pred_share`) are its usual predecessors; reaching an expensive endpoint
  with none of them before is a violation (a bot calling image generation with no page, login or
  model list first). Order is learned from and judged on sessions of >= `min_order_steps` requests only: a
  one-request session (a scraper's proxy exit, a crawler) has no order to honour and would teach that
  skipping is normal;
- the token behind a skipping session: a person resuming after a break, or a customer's integration,
  skips too, but their token honoured the order in another session of the window, is active in
  >= `established_hours` distinct hours, or was seen before the window. A token that is none of these
  (a throwaway account that starts by spending) makes the violation medium, and high with a surprising
  path; an established token's violation stays low whatever else the session shows;
- timing: the coefficient of variation of inter-arrival times over sessions with enough requests;
  metronome timing is evidence of a script, but paying batch customers run scripts too, so on its
  own it is never more than low.

Top 2- and 3-grams go to `sequence_ngrams` for the report.
"""

from __future__ import annotations

import duckdb
from pydantic import Field

from gatewarden.detectors.base import Detector, Window
from gatewarden.detectors.sqlparts import ENTITY_KEYS, robust_threshold, stable_mode
from gatewarden.detectors.stats import sample_ids
from gatewarden.sessions import with_session_keys
from gatewarden.settings import DetectorSettings


class Settings(DetectorSettings):
    smoothing: float = Field(
        0.5, gt=0, description="Additive (Lidstone) smoothing of transition counts: an unseen transition gets a small, "
        "non-zero probability, so one odd step is surprising but not infinitely so.")
    min_steps: int = Field(
        8, ge=3, description="Sessions shorter than this are not judged on surprise or timing: a mean over three "
        "steps says little.")
    k_mad: float = Field(
        4.0, gt=0, description="Surprise threshold: median + k x 1.4826 x MAD of the judged sessions' surprise.")
    pred_share: float = Field(
        0.5, gt=0, le=1, description="An endpoint is a usual predecessor of another when it comes before it in at least "
        "this share of the sessions that reach it.")
    min_target_sessions: int = Field(
        20, ge=1, description="Precedence is learned only for endpoints reached in at least this many sessions.")
    min_order_steps: int = Field(
        3, ge=2, description="Precedence is learned from and judged on sessions of at least this many requests.")
    established_hours: int = Field(
        3, ge=1, description="A token active in at least this many distinct hours of the window is established: its "
        "skipped predecessors stay a low finding.")
    max_skip_share: float = Field(
        0.1, gt=0, lt=1, description="A usual-predecessor rule holds only when at most this share of the sessions reaching "
        "the endpoint skip it; where skipping is common (API clients calling it directly) nothing is a violation.")
    max_cv: float = Field(
        0.1, gt=0, description="Inter-arrival coefficient of variation at or below which timing is machine-regular "
        "(humans are bursty: CV near or above 1); lowered further when the population itself is that regular.")
    ngrams_kept: int = Field(50, ge=1, description="Top n-grams per length stored in sequence_ngrams for the report.")


class SequenceDetector(Detector):
    name = "sequence"
    summary = "Sessions with surprising endpoint sequences, skipped usual predecessors, machine-regular timing"

    def findings_sql(self, con: duckdb.DuckDBPyConnection, window: Window) -> str | None:
        s = self.settings
        # Only what the models need is sorted by session; the evidence of the few flagged sessions is joined
        # back from `win` by req_key at the end (gw_seq_flagged), with their readable session keys. Endpoints are
        # numbered in name order (0 is the start state `^`): grouping the day's steps by the strings took most of
        # the n-gram counts' time, and names are looked up only for what is shown.
        con.execute("""CREATE OR REPLACE TEMP TABLE gw_seq_endpoints AS
            SELECT CAST(row_number() OVER (ORDER BY endpoint) AS UINTEGER) AS id, endpoint
            FROM (SELECT DISTINCT endpoint FROM win WHERE endpoint IS NOT NULL)""")
        con.execute("""CREATE OR REPLACE TEMP TABLE gw_seq AS
            SELECT w.session, coalesce(w.ua_class, 'other') AS stratum, w.token, w.ts, e.id AS endpoint, w.cost, w.req_key,
                   row_number() OVER q AS step,
                   coalesce(lag(e.id) OVER q, 0) AS prev,
                   lag(e.id, 2) OVER q AS prev2,
                   epoch(w.ts - lag(w.ts) OVER q) AS gap_s
            FROM win w JOIN gw_seq_endpoints e ON e.endpoint = w.endpoint WHERE NOT coalesce(w.is_static, false)
            WINDOW q AS (PARTITION BY w.session ORDER BY w.ts, w.req_key)""")
        if not con.execute("SELECT count(*) FROM gw_seq").fetchall()[0][0]:
            return None
        self._store_ngrams(con, window)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE gw_seq_nll AS
            WITH t AS (SELECT stratum, prev, endpoint, count(*) AS c FROM gw_seq GROUP BY stratum, prev, endpoint),
            f AS (SELECT stratum, prev, sum(c) AS total FROM t GROUP BY stratum, prev),
            v AS (SELECT count(DISTINCT endpoint) AS states FROM gw_seq)
            SELECT t.stratum, t.prev, t.endpoint, t.c, f.total,
                   -ln((t.c + {s.smoothing!r}) / (f.total + {s.smoothing!r} * v.states)) AS nll
            FROM t JOIN f ON t.stratum = f.stratum AND t.prev = f.prev, v""")
        # Rounded far below what anyone reads: a parallel float mean varies in its last bits from run to run, and the
        # population's medians of these went into findings' details unrounded (2.4894775907124025 / ...403).
        con.execute(f"""CREATE OR REPLACE TEMP TABLE gw_seq_sessions AS
            SELECT q.session, count(*) AS steps, round(avg(n.nll), 12) AS surprise,
                   round(stddev_pop(q.gap_s) / nullif(avg(q.gap_s), 0), 12) AS gap_cv, round(avg(q.gap_s), 12) AS mean_gap_s
            FROM gw_seq q JOIN gw_seq_nll n ON n.stratum = q.stratum AND n.prev = q.prev AND n.endpoint = q.endpoint
            GROUP BY q.session HAVING count(*) >= {s.min_steps}""")
        self._precedence(con, window)
        n_sessions = "(SELECT count(*) FROM gw_seq_sessions)"
        surprise_thr = robust_threshold("gw_seq_sessions", "surprise", s.k_mad, 0.0)
        cv_thr = f"""(SELECT greatest(0.01, least({s.max_cv!r}, med - 3 * 1.4826 * mad)) AS threshold, med
            FROM (SELECT m.med, median(abs(x.gap_cv - m.med)) AS mad FROM gw_seq_sessions x,
                  (SELECT median(gap_cv) AS med FROM gw_seq_sessions) m GROUP BY m.med))"""
        con.execute(f"""CREATE OR REPLACE TEMP TABLE gw_seq_flags AS
            WITH st AS {surprise_thr}, ct AS {cv_thr}
            SELECT coalesce(ss.session, pv.session) AS session,
                   ss.steps, ss.surprise, st.threshold AS surprise_threshold, ss.surprise >= st.threshold AS surprising,
                   ss.gap_cv, ss.mean_gap_s, ct.threshold AS cv_threshold, ss.gap_cv <= ct.threshold AS regular,
                   coalesce(pv.violations, 0) AS violations, pv.skipped, coalesce(pv.throwaway, false) AS throwaway,
                   pv.token_hours, st.med AS surprise_median, ct.med AS cv_median
            FROM gw_seq_sessions ss FULL JOIN gw_seq_violations pv ON pv.session = ss.session, st, ct""")
        flagged = """SELECT w.*, s.step FROM win w JOIN gw_seq s USING (req_key)
            WHERE s.session IN (SELECT session FROM gw_seq_flags
                                WHERE coalesce(surprising, false) OR violations > 0 OR coalesce(regular, false))"""
        con.execute(f"CREATE OR REPLACE TEMP TABLE gw_seq_flagged AS {with_session_keys(flagged)}")
        signals = ("coalesce(surprising, false)::INT + (violations > 0)::INT + coalesce(regular, false)::INT")
        common = f"""count(*) AS requests, sum(q.cost) AS cost, min(q.ts) AS first_seen, max(q.ts) AS last_seen,
                {sample_ids()} AS sample_request_ids,
                CASE WHEN {stable_mode('q.token')} IS NOT NULL THEN json_object('token', {stable_mode('q.token')})
                     ELSE {ENTITY_KEYS['fingerprint'][1]} END AS match"""
        base_details = f"""'signals', any_value({signals}), 'steps', any_value(f.steps), 'token', {stable_mode('q.token')},
                'fingerprint', {stable_mode('q.fingerprint')}, 'client_ips', count(DISTINCT q.client_ip),
                'path', (list(q.endpoint ORDER BY q.step))[1:12], 'judged_sessions', {n_sessions}"""
        metrics = [
            ("sequence_surprise", "any_value(f.surprise)", "any_value(f.surprise_threshold)", "coalesce(f.surprising, false)",
             "any_value(f.surprise) / nullif(any_value(f.surprise_threshold), 0)",
             "'surprise_median', any_value(f.surprise_median), 'unit', 'mean -ln P(step | previous step), Markov model of this window'"),
            ("precedence_violations", "CAST(any_value(f.violations) AS DOUBLE)", "1.0", "f.violations > 0",
             "CAST(any_value(f.violations) AS DOUBLE)",
             "'skipped', any_value(f.skipped), 'token_active_hours', any_value(f.token_hours), 'throwaway_token', bool_or(f.throwaway), "
             "'rule', 'expensive endpoint reached with none of its usual predecessors before it'"),
            ("timing_regularity", "any_value(f.gap_cv)", "any_value(f.cv_threshold)", "coalesce(f.regular, false)",
             "any_value(f.cv_threshold) / greatest(any_value(f.gap_cv), 0.001)",
             "'cv_median', any_value(f.cv_median), 'mean_gap_s', round(any_value(f.mean_gap_s), 2), "
             "'unit', 'coefficient of variation of inter-arrival seconds (lower is more regular)'"),
        ]
        parts = []
        for metric, observed, threshold, flagged, score, extra in metrics:
            # Only a surprising path AND a skipped predecessor together are block-worthy; regular timing never
            # raises severity that far (paying batch customers script their calls).
            # A violation is only as strong as the token behind it: a throwaway token's is medium (high with a
            # surprising path), an established token's (travellers, customers' integrations) stays low.
            skipping = "any_value(f.violations) > 0"
            throwaway = "bool_or(f.throwaway)"
            if metric == "timing_regularity":
                severity = f"CASE WHEN any_value({signals}) >= 2 AND NOT ({skipping} AND NOT {throwaway}) THEN 'medium' ELSE 'low' END"
            else:
                severity = f"""CASE WHEN {skipping} AND NOT {throwaway} THEN 'low'
                     WHEN {skipping} AND bool_or(coalesce(f.surprising, false)) THEN 'high'
                     WHEN {skipping} OR any_value({signals}) >= 2 OR {score} >= 2 THEN 'medium' ELSE 'low' END"""
            parts.append(f"""
            SELECT 'sequence' AS detector, 'session' AS scope, any_value(q.session_key) AS value, '{metric}' AS metric,
                {observed} AS observed, {threshold} AS threshold, {score} AS score,
                {severity} AS severity,
                {common},
                json_object({base_details}, {extra}, 'window_hours', {window.hours!r}) AS details
            FROM gw_seq_flagged q JOIN gw_seq_flags f ON f.session = q.session
            WHERE {flagged} GROUP BY q.session""")
        return " UNION ALL ".join(parts)

    def _precedence(self, con: duckdb.DuckDBPyConnection, window: Window) -> None:
        """gw_seq_violations(session, violations, skipped, token_hours, throwaway): expensive endpoints reached
        without a usual predecessor, and whether the session's token is a throwaway (see the module docstring)."""
        s = self.settings
        con.execute(f"""CREATE OR REPLACE TEMP TABLE gw_seq_violations AS
            WITH ordered AS (SELECT session FROM gw_seq GROUP BY session HAVING count(*) >= {s.min_order_steps}),
            firsts AS (SELECT session, arg_min(stratum, step) AS stratum, endpoint, min(step) AS first_step
                       FROM gw_seq SEMI JOIN ordered USING (session) GROUP BY session, endpoint),
            reach AS (SELECT stratum, endpoint, count(*) AS sessions FROM firsts GROUP BY stratum, endpoint),
            before AS (
                SELECT b.stratum, b.endpoint AS target, a.endpoint AS pred, count(*) AS sessions
                FROM firsts b JOIN firsts a ON a.session = b.session AND a.first_step < b.first_step
                GROUP BY b.stratum, b.endpoint, a.endpoint),
            usual AS (
                SELECT x.stratum, x.target, x.pred, x.sessions / r.sessions AS share
                FROM before x JOIN reach r ON r.stratum = x.stratum AND r.endpoint = x.target
                WHERE r.sessions >= {s.min_target_sessions} AND x.sessions >= {s.pred_share} * r.sessions),
            expensive AS (
                SELECT endpoint FROM gw_seq GROUP BY endpoint
                HAVING avg(cost) >= (SELECT median(cost) FROM gw_seq)),
            guarded AS (SELECT DISTINCT u.stratum, u.target FROM usual u JOIN expensive e ON e.endpoint = u.target),
            reached AS (
                SELECT b.session, b.stratum, b.endpoint, EXISTS (
                    SELECT 1 FROM firsts a JOIN usual u ON u.stratum = b.stratum AND u.pred = a.endpoint AND u.target = b.endpoint
                    WHERE a.session = b.session AND a.first_step < b.first_step) AS honoured
                FROM firsts b JOIN guarded g ON g.stratum = b.stratum AND g.target = b.endpoint),
            cand AS (SELECT session, stratum, endpoint FROM reached WHERE NOT honoured),
            -- A precedence is a rule only where skipping it is rare: most sessions reaching the target honour it.
            rule AS (
                SELECT c.stratum, c.endpoint FROM cand c JOIN reach r ON r.stratum = c.stratum AND r.endpoint = c.endpoint
                GROUP BY c.stratum, c.endpoint, r.sessions HAVING count(*) <= {s.max_skip_share} * r.sessions),
            v AS (SELECT c.* FROM cand c JOIN rule USING (stratum, endpoint)),
            -- A session's token is its most used one. Needed only for violating sessions and the other sessions of their
            -- tokens: those all carry one of the tokens seen in a violating session.
            v_tokens AS (SELECT DISTINCT token FROM gw_seq SEMI JOIN v USING (session) WHERE token IS NOT NULL),
            session_token AS (
                SELECT session, {stable_mode('token')} AS token FROM gw_seq
                SEMI JOIN (SELECT session FROM gw_seq WHERE token IN (SELECT token FROM v_tokens)
                           UNION SELECT session FROM v) USING (session)
                GROUP BY session),
            -- Per token, across its sessions: did one honour the order wherever it applied, how many hours was it active.
            tokens AS (
                SELECT t.token, count(DISTINCT date_trunc('hour', q.ts)) AS hours,
                       bool_or(t.session IN (SELECT session FROM reached GROUP BY ALL HAVING bool_and(honoured))) AS honoured
                FROM gw_seq q JOIN session_token t USING (session)
                WHERE t.token IN (SELECT x.token FROM v JOIN session_token x USING (session))
                GROUP BY t.token),
            seen_before AS (
                SELECT DISTINCT token FROM requests
                WHERE ts < TIMESTAMP '{window.start:%Y-%m-%d %H:%M:%S}' AND token IN (SELECT token FROM tokens))
            SELECT v.session, count(*) AS violations, any_value(k.hours) AS token_hours,
                   coalesce(NOT any_value(k.honoured) AND any_value(k.hours) < {s.established_hours}
                            AND any_value(k.token) NOT IN (SELECT token FROM seen_before), false) AS throwaway,
                   list(json_object('endpoint', ve.endpoint, 'usual_predecessors',
                                    (SELECT list(pe.endpoint || ' (' || CAST(round(100 * u.share) AS INTEGER) || '%)' ORDER BY u.share DESC)
                                     FROM usual u JOIN gw_seq_endpoints pe ON pe.id = u.pred
                                     WHERE u.stratum = v.stratum AND u.target = v.endpoint),
                                    'client_class', v.stratum) ORDER BY v.endpoint) AS skipped
            FROM v JOIN gw_seq_endpoints ve ON ve.id = v.endpoint JOIN session_token t USING (session)
                 LEFT JOIN tokens k ON k.token = t.token
            GROUP BY v.session""")

    def _store_ngrams(self, con: duckdb.DuckDBPyConnection, window: Window) -> None:
        con.execute("DELETE FROM sequence_ngrams WHERE window_start = ? AND window_end = ?", [window.start, window.end])
        # Requests per (n-gram, session) first: count(DISTINCT) beside other aggregates takes DuckDB's slow path, and
        # the n-gram text is built once per n-gram instead of once per request.
        con.execute(f"""INSERT INTO sequence_ngrams
            SELECT ?, ?, n, ngram, requests, sessions FROM (
                SELECT n, ngram, requests, sessions, row_number() OVER (PARTITION BY n ORDER BY requests DESC, ngram) AS rank
                FROM (SELECT g.n, concat_ws(' -> ', e2.endpoint, e1.endpoint, e0.endpoint) AS ngram, g.requests, g.sessions
                      FROM (SELECT n, prev2, prev, endpoint, sum(c) AS requests, count(*) AS sessions
                            FROM (SELECT 2 AS n, NULL AS prev2, prev, endpoint, session, count(*) AS c
                                  FROM gw_seq WHERE prev <> 0 GROUP BY ALL
                                  UNION ALL
                                  SELECT 3, prev2, prev, endpoint, session, count(*) FROM gw_seq WHERE prev2 IS NOT NULL GROUP BY ALL)
                            GROUP BY n, prev2, prev, endpoint) g
                      JOIN gw_seq_endpoints e0 ON e0.id = g.endpoint JOIN gw_seq_endpoints e1 ON e1.id = g.prev
                      LEFT JOIN gw_seq_endpoints e2 ON e2.id = g.prev2))
            WHERE rank <= {self.settings.ngrams_kept}""", [window.start, window.end])
