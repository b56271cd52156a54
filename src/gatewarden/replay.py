"""Replay requests against decisions as a gateway would, independently of the policy that made them.

A rule is a `match` object: canonical field -> value, every key must match; `client_ip` may be
an address or a CIDR. Rules are loaded into a temp table and joined to requests in SQL, one join
per distinct key set (a handful), so replaying a day is set-based whatever the number of rules.
The safety valve, narrowing, the rate-limit backtest, `gatewarden eval` (findings as rules) and `make eval`
all use this one matcher. Throttle decisions are replayed as a fixed-window rate limiter: requests over the decision's
`limit.requests` per `limit.per_s` seconds are rejected.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from gatewarden.canonical import COLUMN_NAMES
from gatewarden.db import dicts
from gatewarden.enrich.ip import ip_to_num

STOPPING = ("block", "challenge")
# Detectors whose findings the policy answers with a throttle: a burst slows to the key's own pace (docs/decisions.md).
THROTTLED_BY_DESIGN = frozenset({"burst"})
_V4_BASE = 0xFFFF_0000_0000
# What a gateway can see of a request: not our bookkeeping (where a row came from) nor derived columns (ts is no selector).
MATCHABLE = frozenset(COLUMN_NAMES) - {"ts", "ip_num", "source_file", "source_line"}
_RANGE_FIELDS = {"client_ip"}
_INT_FIELDS = {"asn", "status", "bot_score"}


def ip_range(text: str) -> tuple[int, int] | None:
    """Inclusive bounds of an address or CIDR on the ip_num axis (IPv4 mapped into ::ffff:0:0/96)."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if isinstance(net, ipaddress.IPv4Network):
        return _V4_BASE + int(net.network_address), _V4_BASE + int(net.broadcast_address)
    lo, hi = ip_to_num(str(net.network_address)), int(net.broadcast_address)
    return (lo, hi) if lo is not None else None


@dataclass(frozen=True)
class Rule:
    rule_id: str
    match: dict


class Matcher:
    """Temp table `<name>_rules` + SQL yielding (req_key, rule_id) for every request a rule matches.

    `unmatchable` lists the ids of rules that can select no request: empty, or naming a field outside MATCHABLE.
    `bad_address` lists those whose client_ip is neither an address nor a CIDR."""

    def __init__(self, con: duckdb.DuckDBPyConnection, rules: Iterable[Rule], name: str = "gw_replay"):
        self.con, self.name = con, name
        self.keysets: list[tuple[str, ...]] = []
        self.unmatchable: list[str] = []
        self.bad_address: list[str] = []
        records: dict[str, list] = {"rule_id": [], "keyset": [], "ip_lo_hi": [], "ip_lo_lo": [], "ip_hi_hi": [], "ip_hi_lo": []}
        rules = list(rules)
        fields = sorted({k for r in rules for k in r.match if k in MATCHABLE})
        for f in fields:
            records[f] = []
        for rule in rules:
            keys = tuple(sorted(k for k in rule.match if k in MATCHABLE))
            if not keys or len(keys) != len(rule.match):
                self.unmatchable.append(rule.rule_id)
                continue
            bounds = ip_range(str(rule.match["client_ip"])) if "client_ip" in rule.match else (0, 0)
            if bounds is None:
                self.bad_address.append(rule.rule_id)
                continue
            if keys not in self.keysets:
                self.keysets.append(keys)
            records["rule_id"].append(rule.rule_id)
            records["keyset"].append("|".join(keys))
            for part, num in (("lo", bounds[0]), ("hi", bounds[1])):
                records[f"ip_{part}_hi"].append(num >> 64)
                records[f"ip_{part}_lo"].append(num & 0xFFFF_FFFF_FFFF_FFFF)
            for f in fields:
                value = rule.match.get(f)
                records[f].append(None if value is None else str(value))
        table = pa.table({k: pa.array(v, pa.uint64() if k.startswith("ip_") else pa.string()) for k, v in records.items()})
        con.register(f"{name}_arrow", table)
        big = "CAST(18446744073709551616 AS UHUGEINT)"
        extra = "".join(f", {_q(f)}" for f in fields)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {name}_rules AS
            SELECT rule_id, keyset{extra},
                   CAST(ip_lo_hi AS UHUGEINT) * {big} + ip_lo_lo AS ip_lo,
                   CAST(ip_hi_hi AS UHUGEINT) * {big} + ip_hi_lo AS ip_hi
            FROM {name}_arrow"""
        )
        con.unregister(f"{name}_arrow")

    def hits_sql(self, source: str) -> str:
        """SELECT req_key, rule_id over `source` (a relation exposing req_key and the canonical columns)."""
        parts = []
        for keys in self.keysets:
            conds = [f"u.keyset = '{'|'.join(keys)}'"]
            for k in keys:
                if k in _INT_FIELDS:
                    conds.append(f"r.{_q(k)} = TRY_CAST(u.{_q(k)} AS INTEGER)")
                elif k not in _RANGE_FIELDS:
                    conds.append(f"CAST(r.{_q(k)} AS VARCHAR) = u.{_q(k)}")
            # A single address is an equality (a hash join); only networks need the range join.
            shapes = [["u.ip_lo = u.ip_hi", "r.ip_num = u.ip_lo"], ["u.ip_lo < u.ip_hi", "r.ip_num BETWEEN u.ip_lo AND u.ip_hi"]] \
                if any(k in _RANGE_FIELDS for k in keys) else [[]]
            parts += [f"SELECT r.req_key, u.rule_id FROM ({source}) r JOIN {self.name}_rules u ON {' AND '.join(conds + shape)}"
                      for shape in shapes]
        return " UNION ALL ".join(parts) or "SELECT CAST(NULL AS BIGINT) AS req_key, CAST(NULL AS VARCHAR) AS rule_id WHERE false"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def window_source(start, end) -> str:
    """The window's requests keyed by their rowid (stable within one database file)."""
    return f"SELECT rowid AS req_key, * FROM requests WHERE ts >= TIMESTAMP '{start:%Y-%m-%d %H:%M:%S}' " \
           f"AND ts < TIMESTAMP '{end:%Y-%m-%d %H:%M:%S}'"


def stopping_rules(decisions: list[dict]) -> list[Rule]:
    return [Rule(d["id"], d["match"]) for d in decisions if d["action"] in STOPPING]


def stopped_requests(con: duckdb.DuckDBPyConnection, decisions_file: Path, into: str = "gw_stopped") -> dict:
    """Temp table `into`(req_key) of the window's requests a gateway applying `decisions_file` would stop, and
    `into`_throttled(req_key) of those its throttle decisions would reject (see `throttled_sql`)."""
    doc = json.loads(Path(decisions_file).read_text(encoding="utf-8"))
    start, end = (_ts(doc["window"][k]) for k in ("start", "end"))
    source = window_source(start, end)
    matcher = Matcher(con, stopping_rules(doc["decisions"]), name="gw_replay")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {into} AS SELECT DISTINCT req_key FROM ({matcher.hits_sql(source)})")
    throttles = [d for d in doc["decisions"] if d["action"] == "throttle" and d.get("limit")]
    limits = Matcher(con, [Rule(d["id"], d["match"]) for d in throttles], name="gw_replay_throttle")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {into}_limits (rule_id VARCHAR, requests BIGINT, per_s BIGINT)")
    if throttles:
        con.executemany(f"INSERT INTO {into}_limits VALUES (?, ?, ?)",
                        [(d["id"], int(d["limit"]["requests"]), int(d["limit"]["per_s"])) for d in throttles])
    con.execute(f"CREATE OR REPLACE TEMP TABLE {into}_throttled AS {throttled_sql(limits.hits_sql(source), source, f'{into}_limits')}")
    return doc


def throttled_sql(hits: str, source: str, limits: str) -> str:
    """req_key of every request a fixed-window rate limiter rejects: per throttle decision, requests beyond its
    `limit.requests` in each `limit.per_s`-second window (aligned on the epoch, as nginx/Envoy buckets are)."""
    return f"""SELECT DISTINCT req_key FROM (
        SELECT h.req_key, l.requests AS allowed,
               row_number() OVER (PARTITION BY h.rule_id, floor(epoch(r.ts) / l.per_s) ORDER BY r.ts, h.req_key) AS nth
        FROM ({hits}) h JOIN {limits} l USING (rule_id) JOIN ({source}) r USING (req_key))
        WHERE nth > allowed"""


def _ts(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def evaluate(con: duckdb.DuckDBPyConnection, decisions_file: Path, label_files: list[Path]) -> list[dict]:
    """Per scenario: requests, how many block/challenge decisions stop (`stopped`, `stopped_share`), and how many
    are stopped or rejected by a throttle (`limited`, `limited_share`). Labels join on request_id."""
    doc = stopped_requests(con, decisions_file)
    start, end = (_ts(doc["window"][k]) for k in ("start", "end"))
    files = [str(p) for p in label_files]
    con.execute("CREATE OR REPLACE TEMP TABLE gw_labels AS SELECT request_id, scenario, CAST(is_attack AS BOOLEAN) AS is_attack, "
                "nullif(expected_detector, '') AS expected_detector "
                "FROM read_csv(?, union_by_name := true, all_varchar := true)", [files])
    return dicts(con, f"""
        SELECT l.scenario, bool_or(l.is_attack) AS is_attack, mode(l.expected_detector ORDER BY l.expected_detector) AS expected_detector,
               count(*) AS requests, count(s.req_key) AS stopped, round(count(s.req_key) / count(*), 6) AS stopped_share,
               count(*) FILTER (WHERE s.req_key IS NOT NULL OR t.req_key IS NOT NULL) AS limited,
               round(count(*) FILTER (WHERE s.req_key IS NOT NULL OR t.req_key IS NOT NULL) / count(*), 6) AS limited_share
        FROM ({window_source(start, end)}) r
        JOIN gw_labels l USING (request_id)
        LEFT JOIN gw_stopped s USING (req_key)
        LEFT JOIN gw_stopped_throttled t USING (req_key)
        GROUP BY l.scenario ORDER BY is_attack DESC, l.scenario""")


def label_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).glob("labels-*.csv*") if p.suffix in (".csv", ".gz"))


def summary(results: list[dict]) -> dict:
    """Benign share stopped by block/challenge, and per attack the share that counts for acceptance: block/challenge,
    except for attacks whose detector's designed answer is a throttle (THROTTLED_BY_DESIGN), where rejected requests count."""
    benign = [r for r in results if not r["is_attack"]]
    total_benign = sum(r["requests"] for r in benign)
    return {
        "benign_requests": total_benign,
        "benign_stopped": sum(r["stopped"] for r in benign),
        "benign_share": (sum(r["stopped"] for r in benign) / total_benign) if total_benign else 0.0,
        "benign_limited_share": (sum(r["limited"] for r in benign) / total_benign) if total_benign else 0.0,
        "attacks": {r["scenario"]: r["limited_share"] if r.get("expected_detector") in THROTTLED_BY_DESIGN else r["stopped_share"]
                    for r in results if r["is_attack"]},
    }
