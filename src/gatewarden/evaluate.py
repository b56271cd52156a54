"""Detection quality against ground-truth labels (the generator's labels-YYYY-MM-DD.csv.gz).

A request is *found* when some finding's `match` selects it: the same JSON a gateway acts on, so
the evaluation measures what would actually be enforced. An entity (the label's entity_scope and
entity_value) is found when at least half of its labelled requests are. For each attack scenario:
the share of its requests and entities found by the detector meant for it and by any detector. For
all benign traffic and each benign scenario (the hard cases): the share flagged at high severity.
Matching is the gateway's own (replay.Matcher, each finding a rule): set-based SQL, one join per
distinct key set, client_ip CIDRs as a range join on ip_num.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
from rich.table import Table

from gatewarden.db import dicts, rows, scalar
from gatewarden.detectors.base import Window
from gatewarden.errors import GatewardenError
from gatewarden.replay import Matcher, Rule

LABEL_COLUMNS = ("request_id", "scenario", "is_attack", "entity_scope", "entity_value", "expected_detector")


@dataclass
class Row:
    scenario: str
    is_attack: bool
    expected_detector: str | None
    requests: int
    entities: int
    requests_found_expected: float  # shares in [0, 1]
    entities_found_expected: float
    requests_found_any: float
    entities_found_any: float
    requests_high: float
    entities_high: float


@dataclass
class Report:
    window: Window
    labelled_requests: int
    findings: int
    rows: list[Row] = field(default_factory=list)
    unmatchable_findings: int = 0  # findings whose match no request can satisfy (see replay.Matcher)

    @property
    def attacks(self) -> list[Row]:
        return [r for r in self.rows if r.is_attack]

    @property
    def benign(self) -> list[Row]:
        return [r for r in self.rows if not r.is_attack]

    def row(self, scenario: str) -> Row:
        return next(r for r in self.rows if r.scenario == scenario)


def load_labels(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    if not Path(path).is_file():
        raise GatewardenError(f"Labels file {path} does not exist.", "Pass the labels-YYYY-MM-DD.csv.gz written by `gatewarden generate`.")
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE gw_labels_raw AS SELECT * FROM read_csv(?, header = true, all_varchar = true)",
                    [str(path)])
    except duckdb.Error as exc:
        raise GatewardenError(f"Labels file {path} is not a readable CSV: {str(exc).splitlines()[0]}",
                              "Pass the labels file written by the generator (CSV, optionally gzip).") from None
    have = {r[0] for r in rows(con, "SELECT column_name FROM (DESCRIBE gw_labels_raw)")}
    missing = [c for c in LABEL_COLUMNS if c not in have]
    if missing:
        raise GatewardenError(f"Labels file {path} lacks columns {', '.join(missing)}.",
                              f"A labels file has the columns {', '.join(LABEL_COLUMNS)}.")
    con.execute("""
    CREATE OR REPLACE TEMP TABLE gw_labels AS
    SELECT l.request_id, l.scenario, lower(l.is_attack) IN ('true', '1', 't', 'yes') AS is_attack,
           l.entity_scope, l.entity_value, nullif(l.expected_detector, '') AS expected_detector, r.ts, r.ip_num
    FROM gw_labels_raw l JOIN requests r USING (request_id)""")
    con.execute("DROP TABLE gw_labels_raw")


def _match_findings(con: duckdb.DuckDBPyConnection, window: Window) -> int:
    """gw_found(request_id, detector, severity): every labelled request each finding of `window` selects, by the
    gateway's matcher (each finding a rule). Returns how many findings no request can match."""
    con.execute("""
    CREATE OR REPLACE TEMP TABLE gw_eval_findings AS
    SELECT CAST(row_number() OVER () AS VARCHAR) AS fid, detector, severity, CAST(match AS VARCHAR) AS match
    FROM findings WHERE window_start = ? AND window_end = ?""", [window.start, window.end])
    # One rule per finding: Python touches the findings (a few thousand at most), never the requests.
    rules = [Rule(fid, _as_match(text)) for fid, text in rows(con, "SELECT fid, match FROM gw_eval_findings")]
    matcher = Matcher(con, rules, name="gw_eval")
    labelled = "SELECT rowid AS req_key, * FROM requests WHERE request_id IN (SELECT request_id FROM gw_labels)"
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE gw_found AS
    SELECT DISTINCT r.request_id, f.detector, f.severity
    FROM ({matcher.hits_sql(labelled)}) h
    JOIN gw_eval_findings f ON f.fid = h.rule_id
    JOIN ({labelled}) r USING (req_key)""")
    return len(matcher.unmatchable) + len(matcher.bad_address)


def _as_match(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def evaluate(con: duckdb.DuckDBPyConnection, labels_path: Path, window: Window | None = None) -> Report:
    """Score the findings of `window` (default: the UTC day of the newest labelled request) against the labels."""
    load_labels(con, labels_path)
    if window is None:
        newest: datetime | None = scalar(con, "SELECT max(ts) FROM gw_labels")
        if newest is None:
            raise GatewardenError(f"No request of {labels_path} is in the database.",
                                  "Ingest the log file the labels belong to first: `gatewarden ingest FILE`.")
        start = datetime.combine(newest.date(), datetime.min.time())
        window = Window(start, start + timedelta(days=1))
    con.execute("DELETE FROM gw_labels WHERE NOT (ts >= ? AND ts < ?)", [window.start, window.end])
    unmatchable = _match_findings(con, window)
    report = Report(window, scalar(con, "SELECT count(*) FROM gw_labels"),
                    scalar(con, "SELECT count(*) FROM gw_eval_findings"), unmatchable_findings=unmatchable)
    per_request = """
        SELECT l.*, coalesce(bool_or(f.detector = l.expected_detector), false) AS by_expected,
               count(f.detector) > 0 AS by_any, coalesce(bool_or(f.severity = 'high'), false) AS high
        FROM gw_labels l LEFT JOIN gw_found f USING (request_id) GROUP BY ALL"""
    groups = f"""
        WITH p AS ({per_request}),
        g AS (SELECT scenario AS grp, * FROM p UNION ALL SELECT 'all benign' AS grp, * FROM p WHERE NOT is_attack),
        e AS (SELECT grp, entity_scope, entity_value, avg(by_expected::INT) >= 0.5 AS e_expected,
                     avg(by_any::INT) >= 0.5 AS e_any, avg(high::INT) >= 0.5 AS e_high
              FROM g WHERE entity_value IS NOT NULL AND entity_value <> '' GROUP BY ALL),
        r AS (SELECT grp, bool_or(is_attack) AS is_attack,
                     mode(expected_detector ORDER BY expected_detector) AS expected_detector, count(*) AS requests,
                     avg(by_expected::INT) AS rx, avg(by_any::INT) AS ra, avg(high::INT) AS rh FROM g GROUP BY grp),
        es AS (SELECT grp, count(*) AS entities, avg(e_expected::INT) AS ex, avg(e_any::INT) AS ea, avg(e_high::INT) AS eh
               FROM e GROUP BY grp)
        SELECT r.*, coalesce(es.entities, 0) AS entities, coalesce(es.ex, 0) AS ex, coalesce(es.ea, 0) AS ea,
               coalesce(es.eh, 0) AS eh
        FROM r LEFT JOIN es USING (grp)
        ORDER BY is_attack DESC, grp = 'all benign' DESC, grp"""
    for d in dicts(con, groups):
        report.rows.append(Row(d["grp"], bool(d["is_attack"]), d["expected_detector"], d["requests"], d["entities"],
                               d["rx"], d["ex"], d["ra"], d["ea"], d["rh"], d["eh"]))
    return report


def report_table(report: Report) -> Table:
    table = Table(title=f"evaluation {report.window.start:%Y-%m-%d %H:%M} .. {report.window.end:%Y-%m-%d %H:%M} UTC: "
                        f"{report.labelled_requests:,} labelled requests, {report.findings:,} findings", title_justify="left")
    for col, justify in (("scenario", "left"), ("kind", "left"), ("expected detector", "left"), ("requests", "right"),
                         ("entities", "right"), ("req found (expected)", "right"), ("ent found (expected)", "right"),
                         ("req found (any)", "right"), ("ent found (any)", "right"), ("req high", "right"), ("ent high", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    pct = "{:.1%}".format
    for r in report.rows:
        if r.is_attack:
            table.add_row(r.scenario, "attack", r.expected_detector or "", f"{r.requests:,}", f"{r.entities:,}",
                          pct(r.requests_found_expected), pct(r.entities_found_expected), pct(r.requests_found_any),
                          pct(r.entities_found_any), pct(r.requests_high), pct(r.entities_high))
        else:
            style = "red" if r.requests_high > 0.01 else ""
            table.add_row(r.scenario, "benign", "", f"{r.requests:,}", f"{r.entities:,}", "", "", "", "",
                          f"[{style}]{pct(r.requests_high)}[/]" if style else pct(r.requests_high), pct(r.entities_high))
    if report.unmatchable_findings:
        table.caption = (f"{report.unmatchable_findings} findings have a match no request can satisfy (a key that is not a "
                         "gateway-visible field, or a client_ip that is no address) and were skipped")
    return table
