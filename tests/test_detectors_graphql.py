"""graphql detector: document metrics (graphql-core AST), quantiles, limits and findings through the real CLI."""

from __future__ import annotations

import json
import random

import duckdb
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gatewarden.detectors.graphql_metrics import document_metrics, quantiles

BENIGN_DOCS = [
    "query Me { viewer { id name } }",
    "query Chats($n: Int) { chats(first: $n) { edges { node { id title messages { id text } } } } }",
    "query Models { models { id name contextWindow } }",
    "mutation Send($t: String) { sendMessage(text: $t) { id createdAt } }",
    "query Usage { viewer { usage { tokens cost period { start end } } } }",
]


def nested(depth: int) -> str:
    return "{ " + " { ".join(f"f{i}" for i in range(depth)) + " }" * depth


@given(st.integers(min_value=1, max_value=60))
def test_depth_of_generated_nested_query_equals_nesting(depth):
    m = document_metrics(nested(depth))
    assert m.parse_error is None
    assert (m.depth, m.fields, m.aliases, m.introspection) == (depth, depth, 0, False)


@given(st.integers(min_value=1, max_value=40))
def test_aliases_are_counted(n):
    doc = "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(n)) + " }"
    m = document_metrics(doc)
    assert (m.aliases, m.fields, m.depth) == (n, 2 * n, 2)


def test_fragment_spreads_are_expanded_without_blowing_up():
    # Each fragment spreads the next twice: 2^30 leaf fields, computed without expanding the text.
    frags = [f"fragment F{i} on Q {{ a: x {{ ...F{i + 1} }} b: y {{ ...F{i + 1} }} }}" for i in range(30)]
    doc = "query { ...F0 } " + " ".join(frags) + " fragment F30 on Q { leaf }"
    m = document_metrics(doc)
    assert m.parse_error is None and m.fragments == 31 and m.spreads == 61
    assert m.depth == 31 and m.fields == 2 ** 31 - 2 + 2 ** 30
    assert document_metrics("query { ...A } fragment A on Q { x { ...B } } fragment B on Q { ...A }").parse_error.startswith(
        "fragment cycle")


def test_introspection_and_parse_errors():
    assert document_metrics("{ __schema { types { name } } }").introspection
    assert document_metrics("query { __type(name: \"X\") { name } }").introspection
    assert not document_metrics("{ viewer { __typename id } }").introspection
    assert document_metrics("{ viewer { id }").parse_error
    assert document_metrics("fragment A on Q { x }").parse_error == "no operation in document"


@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=200),
       st.lists(st.integers(min_value=1, max_value=50), min_size=200, max_size=200))
def test_quantiles_are_monotone_and_observed(values, weights):
    v = np.array(values)
    p50, p75, p95, p99 = quantiles(v, np.array(weights[: len(values)]))
    assert p50 <= p75 <= p95 <= p99
    assert {p50, p75, p95, p99} <= set(float(x) for x in values)


def test_quantiles_fix_the_brief_example():
    # A skewed distribution like the product brief's (which printed p50 above p75): the order must hold.
    p50, p75, p95, p99 = quantiles(np.array([2, 2, 2, 3, 6, 7, 40]), np.array([50, 30, 10, 5, 3, 1, 1]))
    assert (p50, p75, p95, p99) == (2, 2, 3, 7)


def write_traffic(path, seed=7, tokens=40):
    rng = random.Random(seed)
    recs = []
    t0 = 1795132800  # 2026-11-20 00:00 UTC
    for i in range(1500):
        tok = f"key_user{rng.randrange(tokens):03d}"
        recs.append({"ts": t0 + i * 50, "request_id": f"r{i}", "client_ip": f"10.1.{rng.randrange(200)}.{rng.randrange(250)}",
                     "method": "POST", "path": "/graphql", "status": 200, "token": tok,
                     "graphql_query": rng.choice(BENIGN_DOCS)})
    for j in range(20):  # a depth bomb, every document a little different
        recs.append({"ts": t0 + 30000 + j * 20, "request_id": f"d{j}", "client_ip": "203.0.113.9", "method": "POST",
                     "path": "/graphql", "status": 200, "token": "key_bomber", "graphql_query": nested(40 + j)})
    for j in range(10):  # an alias bomb
        doc = "{ " + " ".join(f"a{k}: viewer {{ id }}" for k in range(300 + j)) + " }"
        recs.append({"ts": t0 + 40000 + j * 20, "request_id": f"a{j}", "client_ip": "198.51.100.7", "method": "POST",
                     "path": "/graphql", "status": 200, "token": "key_aliaser", "graphql_query": doc})
    for j in range(3):
        recs.append({"ts": t0 + 50000 + j, "request_id": f"i{j}", "client_ip": "192.0.2.44", "method": "POST",
                     "path": "/graphql", "status": 200, "graphql_query": "{ __schema { types { name fields { name } } } }"})
    recs.append({"ts": t0 + 60000, "request_id": "bad", "client_ip": "192.0.2.45", "method": "POST", "path": "/graphql",
                 "status": 400, "graphql_query": "{ viewer { id "})
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    return path


def findings(db_path, detector="graphql"):
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute("SELECT scope, value, metric, observed, threshold, severity, sample_request_ids, match, details "
                           "FROM findings WHERE detector = ? ORDER BY scope, value, metric", [detector]).fetchall()
    finally:
        con.close()


def test_bombs_and_introspection_found_with_limits_stored(tmp_path, db_path, cli):
    log = write_traffic(tmp_path / "gql.jsonl")
    assert cli("ingest", log, "--db", db_path).exit_code == 0
    result = cli("analyze", "--db", db_path, "--detector", "graphql")
    assert result.exit_code == 0, result.output
    rows = findings(db_path)
    by = {(r[0], r[1], r[2]): r for r in rows}
    depth = by[("token", "key_bomber", "graphql_max_depth")]
    assert depth[3] == 59 and depth[5] == "high" and json.loads(depth[7]) == {"token": "key_bomber"}
    assert depth[6][0] == "d0"
    assert by[("ip", "203.0.113.9", "graphql_max_depth")][5] == "high"
    assert by[("token", "key_aliaser", "graphql_max_aliases")][5] == "high"
    assert by[("ip", "192.0.2.44", "graphql_introspection")][5] == "medium"
    assert not [r for r in rows if r[1].startswith("key_user")], "benign users must not be flagged"
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        stats = {r[0]: r[1:] for r in con.execute(
            "SELECT metric, p50, p75, p95, p99, recommended_max, unparseable, basis FROM graphql_stats").fetchall()}
        assert con.execute("SELECT count(*) FROM graphql_docs WHERE parse_error IS NOT NULL").fetchall() == [(1,)]
    finally:
        con.close()
    p50, p75, p95, p99, rec, unparseable, basis = stats["depth"]
    assert p50 <= p75 <= p95 <= p99 and unparseable == 1
    assert 5 <= rec <= 12 and "benign-looking" in basis
    # Re-running is idempotent: same findings, one stats row per metric.
    assert cli("analyze", "--db", db_path, "--detector", "graphql").exit_code == 0
    assert findings(db_path) == rows
