"""The generator's row: one request as the gateway saw it, plus its ground-truth label."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import numpy as np
import polars as pl

# `auth` is the Authorization header exactly as the client sent it; writers log it as is.
SCHEMA: dict[str, pl.DataType] = {
    "ts_ms": pl.Int64, "client_ip": pl.Utf8, "asn": pl.Int64, "as_org": pl.Utf8, "country": pl.Utf8,
    "method": pl.Utf8, "host": pl.Utf8, "path": pl.Utf8, "status": pl.Int64, "bytes_out": pl.Int64,
    "duration_ms": pl.Int64, "user_agent": pl.Utf8, "referer": pl.Utf8, "auth": pl.Utf8, "session_id": pl.Utf8,
    "ja3": pl.Utf8, "ja4": pl.Utf8, "bot_score": pl.Int64, "graphql_query": pl.Utf8, "accept_language": pl.Utf8,
    "scenario": pl.Utf8, "entity_scope": pl.Utf8, "entity_value": pl.Utf8, "expected_detector": pl.Utf8,
}

# Signs the demo JWTs. Public on purpose: these tokens are fiction, and tests may verify them.
DEMO_JWT_SECRET = b"gatewarden-demo-jwt-secret"


def frame(n: int, **columns: object) -> pl.DataFrame:
    """A frame of n rows in SCHEMA order; a scalar fills the column, a missing column is null."""
    data = {}
    for name, dtype in SCHEMA.items():
        value = columns.pop(name, None)
        if isinstance(value, np.ndarray) and value.dtype == object and dtype == pl.Utf8:
            # Object arrays mix str, numpy str and None; go through a fixed-width array, then restore the nulls.
            missing = pl.Series(value == None)  # noqa: E711 - elementwise comparison
            text = pl.Series(name, value.astype(str), dtype=pl.Utf8)
            data[name] = pl.select(pl.when(missing).then(None).otherwise(text).alias(name)).to_series()
        elif isinstance(value, np.ndarray | list | pl.Series):
            data[name] = pl.Series(name, value, dtype=dtype, strict=False)
        else:
            data[name] = pl.repeat(value, n, dtype=dtype, eager=True).alias(name)
    if columns:
        raise ValueError(f"not generator columns: {sorted(columns)}")
    return pl.DataFrame(data)


def bearer(tokens: np.ndarray) -> np.ndarray:
    return np.char.add("Bearer ", tokens.astype(str)).astype(object)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_jwts(subjects: np.ndarray, jtis: np.ndarray, issued_s: np.ndarray, lifetime_s: int = 3600) -> np.ndarray:
    """HS256 access tokens (sub, jti, iat, exp). Python per token: tokens are per session, not per request."""
    header = _b64(b'{"alg":"HS256","typ":"JWT"}')
    out = np.empty(len(subjects), dtype=object)
    for i, (sub, jti, iat) in enumerate(zip(subjects, jtis, issued_s, strict=True)):
        claims = {"sub": str(sub), "jti": str(jti), "iat": int(iat), "exp": int(iat) + lifetime_s, "scope": "chat images"}
        signing_input = f"{header}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
        signature = hmac.new(DEMO_JWT_SECRET, signing_input.encode(), hashlib.sha256).digest()
        out[i] = f"{signing_input}.{_b64(signature)}"
    return out


def token_identity(raw: str) -> str:
    """What gatewarden stores for a token it can name without the hashing key (ids and JWTs).

    Raw secrets (`sk-...`) are returned as is: their stored identity is `h:<HMAC>` under the
    deployment's key; `gatewarden.secrets.keyed_hash(key, value)` computes it."""
    value = raw.removeprefix("Bearer ")
    if value.startswith("eyJ"):
        payload = value.split(".")[1]
        return "jwt:" + json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]
    return value


def api_requests(rng: np.random.Generator, ts: np.ndarray, codes: np.ndarray, ip: np.ndarray, net: np.ndarray,
                 profiles: tuple, device: np.ndarray, **columns: object) -> pl.DataFrame:
    """Requests to catalogue endpoints with their usual answers; `columns` add or override fields."""
    from gatewarden.generator import catalog
    from gatewarden.generator.world import network_columns

    status, nbytes, duration = catalog.respond(rng, codes)
    methods, hosts = catalog.methods_hosts(codes)
    base: dict[str, object] = {
        "ts_ms": ts, "client_ip": ip, **network_columns(net), "method": methods, "host": hosts,
        "path": catalog.paths(rng, codes), "status": status, "bytes_out": nbytes, "duration_ms": duration,
        **catalog.profile_columns(profiles, device),
    }
    base.update(columns)
    return frame(len(ts), **base)
