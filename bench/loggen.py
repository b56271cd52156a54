"""A fast, vectorised nginx access-log writer for benchmarks (millions of lines in seconds).

Columns are drawn with NumPy from small pools (Zipf-skewed, as real traffic is), assembled into
lines by polars' multithreaded `concat_str` and written in chunks, so memory stays flat whatever
the size. The traffic looks like a generative-AI API: ids in paths for the endpoint templater,
query strings (some carrying secrets for the redactor), API keys of three kinds (opaque ids, raw
`sk-` secrets, JWTs) for the token classifier, IPv4 and some IPv6 clients for the IP map.
The content is not labelled: detection quality is evaluated with gatewarden's own generator.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

COMBINED = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
            '"$http_referer" "$http_user_agent"')
EXTRAS = COMBINED + ' $request_time "$http_x_api_key" "$http_x_ja4" "$cookie_session"'
FORMATS = {"combined": COMBINED, "extras": EXTRAS}

CHUNK = 500_000
DAY = datetime(2026, 11, 20, tzinfo=UTC)

USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "OpenAI/Python 1.54.4", "openai-node/4.73.0", "python-requests/2.32.3", "curl/8.5.0", "Go-http-client/2.0",
    "okhttp/4.12.0", "axios/1.7.7", "Mozilla/5.0 (compatible; GPTBot/1.2; +https://openai.com/gptbot)",
]
REFERERS = ["-", "-", "-", "https://app.example.ai/chat", "https://app.example.ai/playground?model=gpt-4o",
            "https://docs.example.ai/reset?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl"]
ROUTES = [  # (method, template; {id} and {hex} are filled per line)
    ("POST", "/v1/chat/completions"), ("POST", "/v1/chat/completions"), ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"), ("POST", "/v1/embeddings"), ("GET", "/v1/models"),
    ("GET", "/v1/chats/{id}/messages?limit=50&order=desc"), ("POST", "/v1/threads/thread_{hex}/runs"),
    ("GET", "/v1/files/file-{hex}"), ("GET", "/v1/images/{uuid}"), ("POST", "/graphql"),
    ("GET", "/v1/usage?date=2026-11-20&api_key={hex}"), ("POST", "/auth/login"), ("GET", "/.env"),
    ("GET", "/v1/models/gpt-4o"),
]
STATUS = np.array([200, 201, 204, 301, 400, 401, 403, 404, 429, 499, 500, 502])
STATUS_P = np.array([0.78, 0.02, 0.01, 0.005, 0.02, 0.03, 0.01, 0.04, 0.06, 0.01, 0.01, 0.005])


@dataclass(frozen=True)
class Pools:
    ips: pl.Series
    keys: pl.Series
    ja4: pl.Series
    sessions: pl.Series


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _pools(rng: np.random.Generator, lines: int) -> Pools:
    # Distinct values grow with the size (as a larger day has more callers), sub-linearly.
    n_ips = max(1_000, int(lines ** 0.75))
    v4 = rng.integers(1, 224, (n_ips, 4))
    ips = np.array([f"{a}.{b}.{c}.{d}" for a, b, c, d in v4], dtype=object)
    v6 = rng.random(n_ips) < 0.05
    ips[v6] = [f"2001:db8:{i:x}::{j:x}" for i, j in rng.integers(0, 0xFFFF, (int(v6.sum()), 2))]
    n_keys = max(200, n_ips // 4)
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
    bodies = ["".join(alphabet[rng.integers(0, 62, 32)]) for _ in range(n_keys)]
    kinds = rng.random(n_keys)
    keys = np.array([
        f"key_{b[:20]}" if k < 0.7 else
        f"sk-proj-{b}" if k < 0.85 else
        f"eyJhbGciOiJIUzI1NiJ9.{_b64({'sub': f'user{i}', 'exp': 1795000000 + i})}.{b[:22]}"
        for i, (b, k) in enumerate(zip(bodies, kinds, strict=True))
    ], dtype=object)
    keys[rng.random(n_keys) < 0.05] = "-"
    ja4 = np.array([f"t13d{rng.integers(10, 20)}{rng.integers(10, 20)}h2_{''.join(alphabet[rng.integers(0, 62, 12)])}"
                    for _ in range(200)], dtype=object)
    sessions = np.array(["".join(alphabet[rng.integers(0, 62, 24)]) for _ in range(max(500, n_ips))], dtype=object)
    return Pools(*(pl.Series(list(p), dtype=pl.String) for p in (ips, keys, ja4, sessions)))


def _zipf_index(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """n indexes into a pool of `size`, a few values very common and a long tail, as callers are."""
    return (rng.zipf(1.3, n) - 1) % size


def _hex(rng: np.random.Generator, n: int, width: int) -> pl.Series:
    """n random lowercase hex strings of `width` characters, without a Python loop per value."""
    raw = np.frombuffer(rng.bytes(n * width // 2).hex().encode(), dtype=f"S{width}")
    return pl.Series(raw).cast(pl.String)


def _chunk(rng: np.random.Generator, pools: Pools, start: int, n: int, total: int, fmt: str) -> pl.DataFrame:
    seconds = (np.arange(start, start + n) * (86_400 / total)).astype(np.int64)
    stamps = pl.Series("t", seconds * 1_000_000 + np.int64(DAY.timestamp() * 1_000_000)).cast(pl.Datetime("us"))
    route = rng.integers(0, len(ROUTES), n)
    hexes = _hex(rng, n, 16)
    ids = pl.Series(rng.integers(1, 10_000_000, n)).cast(pl.String)
    uuids = _hex(rng, n, 8) + "-e29b-41d4-a716-446655440000"
    df = pl.DataFrame({
        "ip": pools.ips.gather(_zipf_index(rng, n, len(pools.ips))),
        "ts": stamps,
        "method": pl.Series([m for m, _ in ROUTES]).gather(route),
        "tpl": pl.Series([p for _, p in ROUTES]).gather(route),
        "hex": hexes, "id": ids, "uuid": uuids,
        "status": rng.choice(STATUS, n, p=STATUS_P / STATUS_P.sum()),
        "bytes": rng.lognormal(7, 1.5, n).astype(np.int64),
        "ref": pl.Series(REFERERS).gather(rng.integers(0, len(REFERERS), n)),
        "ua": pl.Series(USER_AGENTS).gather(_zipf_index(rng, n, len(USER_AGENTS))),
    })
    path = (pl.col("tpl").str.replace("{id}", pl.col("id"), literal=True)
            .str.replace("{hex}", pl.col("hex"), literal=True).str.replace("{uuid}", pl.col("uuid"), literal=True))
    # time_local in the server's zone (+0100) so parsers must apply the offset.
    time_local = pl.col("ts").dt.offset_by("1h").dt.strftime("%d/%b/%Y:%H:%M:%S +0100")
    parts = [pl.col("ip"), pl.lit(" - - ["), time_local, pl.lit('] "'), pl.col("method"), pl.lit(" "), path,
             pl.lit(' HTTP/1.1" '), pl.col("status").cast(pl.String), pl.lit(" "), pl.col("bytes").cast(pl.String),
             pl.lit(' "'), pl.col("ref"), pl.lit('" "'), pl.col("ua"), pl.lit('"')]
    if fmt == "extras":
        df = df.with_columns(
            rt=pl.Series(np.round(rng.gamma(2.0, 0.4, n), 3)).cast(pl.String),
            key=pools.keys.gather(_zipf_index(rng, n, len(pools.keys))),
            ja4=pools.ja4.gather(_zipf_index(rng, n, len(pools.ja4))),
            sess=pools.sessions.gather(rng.integers(0, len(pools.sessions), n)),
        )
        parts += [pl.lit(" "), pl.col("rt"), pl.lit(' "'), pl.col("key"), pl.lit('" "'), pl.col("ja4"),
                  pl.lit('" "'), pl.col("sess"), pl.lit('"')]
    return df.select(line=pl.concat_str(parts))


def write_log(path: Path, lines: int, fmt: str = "combined", seed: int = 7) -> Path:
    """Write `lines` nginx lines in the `fmt` layout (see FORMATS) to `path`; deterministic per seed."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {sorted(FORMATS)}")
    rng = np.random.default_rng(seed)
    pools = _pools(rng, lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as out:
        for start in range(0, lines, CHUNK):
            chunk = _chunk(rng, pools, start, min(CHUNK, lines - start), lines, fmt)
            chunk.write_csv(out, include_header=False, quote_style="never")
    tmp.replace(path)
    return path


def log_path(workdir: Path, lines: int, fmt: str, seed: int = 7) -> Path:
    """The cached file for (lines, fmt, seed), generated on first use."""
    path = workdir / f"nginx-{fmt}-{lines}-s{seed}.log"
    if not path.exists():
        write_log(path, lines, fmt, seed)
    return path
