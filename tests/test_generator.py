"""The traffic generator: deterministic, labelled, world-consistent across days, ingestible in both forms."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import re
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from graphql import FieldNode, parse
from hypothesis import given
from hypothesis import strategies as st

from conftest import SAMPLE_LOGS
from gatewarden.generator import attacks_keys
from gatewarden.generator.attacks_graphql import alias_bomb, depth_bomb
from gatewarden.generator.build import Generated, build_day, scenario_table_markdown
from gatewarden.generator.day import Day
from gatewarden.generator.frame import DEMO_JWT_SECRET, token_identity
from gatewarden.generator.scenarios import SCENARIO_NAMES
from gatewarden.generator.writers import nginx_escape

DAY = "2026-11-20"
SMALL = ("--scale", "0.1")


def gen(cli, out: Path, *args: str) -> Path:
    result = cli("generate", "--out", out, "--quiet", *args)
    assert result.exit_code == 0, result.output
    return out


def read_gz(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


def labels(path: Path, day: str = DAY) -> pl.DataFrame:
    return pl.read_csv(read_gz(path / f"labels-{day}.csv.gz"), infer_schema_length=0)


def jsonl(path: Path, day: str = DAY) -> pl.DataFrame:
    return pl.read_ndjson(read_gz(path / f"requests-{day}.jsonl.gz"), infer_schema_length=None)


@pytest.fixture(scope="module")
def small_day(tmp_path_factory) -> Path:
    from typer.testing import CliRunner

    from gatewarden.cli.app import app

    out = tmp_path_factory.mktemp("day1")
    result = CliRunner().invoke(app, ["generate", "--out", str(out), "--quiet", *SMALL])
    assert result.exit_code == 0, result.output
    return out


def test_same_seed_gives_byte_identical_files(cli, tmp_path, small_day):
    again = gen(cli, tmp_path / "again", *SMALL)
    names = sorted(p.name for p in small_day.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    assert {"requests-2026-11-20.jsonl.gz", "access-2026-11-20.log.gz", "labels-2026-11-20.csv.gz", "nginx.log_format",
            "asn-ranges.tsv"} <= set(names)
    for name in names:
        assert (small_day / name).read_bytes() == (again / name).read_bytes(), name
    other = gen(cli, tmp_path / "other", "--seed", "5", *SMALL)
    assert read_gz(other / "requests-2026-11-20.jsonl.gz") != read_gz(small_day / "requests-2026-11-20.jsonl.gz")


def test_labels_cover_every_request_exactly_once(small_day):
    requests, truth = jsonl(small_day), labels(small_day)
    nginx_lines = read_gz(small_day / "access-2026-11-20.log.gz").decode().splitlines()
    assert len(requests) == len(truth) == len(nginx_lines)
    assert requests["request_id"].n_unique() == len(requests)
    assert requests["request_id"].to_list() == truth["request_id"].to_list()
    assert set(truth["scenario"]) == set(SCENARIO_NAMES)
    assert truth.filter(pl.col("is_attack") != pl.col("scenario").str.starts_with("attack_").cast(pl.Utf8)).is_empty()
    attacks = truth.filter(pl.col("is_attack") == "true")
    assert attacks.filter(pl.col("entity_value").is_null() | pl.col("expected_detector").is_null()).is_empty()
    assert 0.05 < len(attacks) / len(truth) < 0.5, "attacks are a minority of the day"
    assert list(requests.columns) == [
        "ts", "request_id", "client_ip", "asn", "as_org", "country", "method", "host", "path", "status", "bytes_out",
        "duration_ms", "user_agent", "referer", "token", "session_id", "ja3", "ja4", "bot_score", "graphql_query",
        "accept_language"]
    assert requests["ts"].str.contains(r"^2026-11-20T\d\d:\d\d:\d\d\.\d{3}Z$").all()
    assert requests["ts"].is_sorted()


def test_committed_sample_logs_match_the_generator(cli, tmp_path):
    if not (SAMPLE_LOGS / "labels-2026-11-20.csv.gz").exists():
        pytest.skip("sample_logs/ is not in this checkout")
    fresh = gen(cli, tmp_path / "fresh")
    for path in sorted(fresh.iterdir()):
        committed = SAMPLE_LOGS / path.name
        # Compare content, not gzip bytes: another zlib may compress the same text differently.
        read = read_gz if path.suffix == ".gz" else Path.read_bytes
        assert hashlib.sha256(read(path)).digest() == hashlib.sha256(read(committed)).digest(), \
            f"sample_logs/{path.name} is stale: regenerate with the command in sample_logs/README.md"
    rows = build_day(Day(date(2026, 11, 20), 1, 7, 1.0))
    assert scenario_table_markdown(Generated(rows).scenario_counts()) in (SAMPLE_LOGS / "README.md").read_text()


def test_second_day_same_world_keeps_customers_and_changes_attacks(cli, tmp_path, small_day):
    day2 = gen(cli, tmp_path / "day2", "--day", "2026-11-21", "--seed", "2", *SMALL)
    one = jsonl(small_day).join(labels(small_day), on="request_id")
    two = jsonl(day2, "2026-11-21").join(labels(day2, "2026-11-21"), on="request_id")

    def tokens(frame: pl.DataFrame, scenario: str) -> set[str]:
        raw = frame.filter(pl.col("scenario") == scenario)["token"].drop_nulls().to_list()
        return {token_identity(t) for t in raw}

    sdk1, sdk2 = tokens(one, "benign_sdk"), tokens(two, "benign_sdk")
    assert len(sdk1 & sdk2) >= 0.7 * min(len(sdk1), len(sdk2))
    assert tokens(one, "benign_batch_customer") == tokens(two, "benign_batch_customer")
    assert len(tokens(one, "benign_browser") & tokens(two, "benign_browser")) > 0
    cgnat = [set(f.filter(pl.col("scenario") == "benign_cgnat")["client_ip"]) for f in (one, two)]
    assert cgnat[0] == cgnat[1]
    for scenario in ("attack_token_rotation", "attack_dc_bot_farm", "attack_residential_scraping"):
        ips = [set(f.filter(pl.col("scenario") == scenario)["client_ip"]) for f in (one, two)]
        assert len(ips[0] & ips[1]) < 0.05 * len(ips[0]), scenario
    assert two["ts"].str.starts_with("2026-11-21").all()


def test_attack_sizes_vary_with_the_seed():
    fanouts = set()
    for seed in range(6):
        leak = attacks_keys.leaked_token(Day(date(2026, 11, 20), seed))
        assert leak["auth"].n_unique() == 1
        fanouts.add(leak["client_ip"].n_unique())
        assert 30 <= leak["client_ip"].n_unique() <= 400
    assert len(fanouts) == 6


def test_jsonl_ingests_with_no_rejects_and_no_raw_secrets(cli, db_path, small_day):
    result = cli("ingest", small_day / "requests-2026-11-20.jsonl.gz", "--db", db_path, "--format", "jsonl")
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM rejects").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM requests").fetchall() == [(len(labels(small_day)),)]
        kinds = dict(con.execute("SELECT regexp_extract(token, '^(jwt:|h:|key_)'), count(*) FROM requests "
                                 "WHERE token IS NOT NULL GROUP BY 1").fetchall())
        assert set(kinds) == {"jwt:", "h:", "key_"}
        assert con.execute("SELECT count(*) FROM requests WHERE token LIKE '%sk-%' OR token LIKE '%eyJ%'").fetchall() == [(0,)]
        expired = con.execute("SELECT count(*) FROM requests WHERE token_exp < ts - INTERVAL 1 DAY").fetchall()[0][0]
        assert expired > 0
    finally:
        con.close()


def test_nginx_and_jsonl_forms_agree_after_ingest(cli, tmp_path, small_day):
    log_format = (small_day / "nginx.log_format").read_text().strip()
    jdb, ndb = tmp_path / "j.duckdb", tmp_path / "n.duckdb"
    assert cli("ingest", small_day / "requests-2026-11-20.jsonl.gz", "--db", jdb, "--format", "jsonl").exit_code == 0
    result = cli("ingest", small_day / "access-2026-11-20.log.gz", "--db", ndb, "--format", "nginx", "--log-format", log_format)
    assert result.exit_code == 0, result.output
    sql = ("SELECT request_id, ts, client_ip, method, path, status, bytes_out, token, session_id, ja4, user_agent, referer, "
           "accept_language, graphql_query, round(duration_ms) FROM requests ORDER BY request_id")
    forms = []
    for db in (jdb, ndb):
        con = duckdb.connect(str(db), read_only=True)
        try:
            assert con.execute("SELECT count(*) FROM rejects").fetchall() == [(0,)]
            # nginx logs whole seconds; JSONL carries milliseconds.
            forms.append([(r[0], r[1].replace(microsecond=0), *r[2:]) for r in con.execute(sql).fetchall()])
        finally:
            con.close()
    assert len(forms[0]) == len(forms[1]) == len(labels(small_day))
    assert forms[0] == forms[1]


def _depth(selection_set) -> int:
    fields = [s for s in selection_set.selections if isinstance(s, FieldNode)]
    return 1 + max((_depth(f.selection_set) for f in fields if f.selection_set), default=0)


@pytest.mark.parametrize("depth", [15, 27, 40])
def test_depth_bomb_nests_as_asked(depth):
    operation = parse(depth_bomb(depth)).definitions[0]
    assert _depth(operation.selection_set) == depth + 1  # the innermost `{ id }` is one level more


def test_alias_bomb_has_the_aliases():
    operation = parse(alias_bomb(300)).definitions[0]
    assert len({s.alias.value for s in operation.selection_set.selections}) == 300


def test_jwts_are_signed_and_expired_ones_are_used_after_exp(small_day):
    frame = jsonl(small_day).join(labels(small_day), on="request_id").filter(pl.col("token").str.starts_with("Bearer eyJ"))
    for scenario in ("benign_browser", "attack_expired_token"):
        rows = frame.filter(pl.col("scenario") == scenario).head(50)
        assert len(rows) > 0
        for raw, ts in zip(rows["token"], rows["ts"], strict=True):
            head, payload, sig = raw.removeprefix("Bearer ").split(".")
            expected = hmac.new(DEMO_JWT_SECRET, f"{head}.{payload}".encode(), hashlib.sha256).digest()
            assert _b64decode(sig) == expected
            claims = json.loads(_b64decode(payload))
            used = date.fromisoformat(ts[:10])
            expired = claims["exp"] < int(pl.Series([ts]).str.to_datetime().dt.epoch("s")[0])
            assert expired == (scenario == "attack_expired_token"), (scenario, claims, used)


def _b64decode(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60))
def test_nginx_escaping_round_trips(value):
    escaped = pl.select(nginx_escape(pl.lit(value))).item()
    assert '"' not in escaped
    decoded = re.sub(r"\\x([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), escaped)
    assert decoded == value


def test_bad_arguments_are_one_clear_error(cli, tmp_path):
    for args, needle in ((("--day", "20-11-2026"), "YYYY-MM-DD"), (("--formats", "csv"), "jsonl, nginx")):
        result = cli("generate", "--out", tmp_path, *args)
        assert result.exit_code == 2 and needle in result.output and "Traceback" not in result.output
