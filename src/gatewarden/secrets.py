"""Turning whatever identifies a caller into an identifier that is safe to store and print.

- an opaque id such as `key_3f9a...` is kept as logged (identifier_patterns);
- a JWT becomes `jwt:<sub>` (or `jwt:<jti>`), and its `exp` is kept for expired-token checks;
- anything that looks like a raw secret (an `Authorization` value, `sk-...`, long random strings)
  becomes `h:<HMAC-SHA256 with a key from the environment or a key file>`.

This runs over the *distinct* tokens of a batch (thousands, not millions), then the result is
joined back in SQL. Free text (paths, referers, rejected lines) is redacted in SQL by `redact_sql`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gatewarden.config import SecretsConfig
from gatewarden.errors import SecretKeyMissing

KEY_ENV = "GATEWARDEN_TOKEN_KEY"
KEY_FILE_ENV = "GATEWARDEN_TOKEN_KEY_FILE"
JWT_RE = re.compile(r"^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
AUTH_SCHEME_RE = re.compile(r"^(bearer|basic|token|apikey)\s+", re.IGNORECASE)

# Redaction inside free text. JWTs anywhere; values of query parameters whose names say secret.
_JWT_ANYWHERE = r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
_SECRET_NAMES = "access_token|id_token|refresh_token|token|api_key|apikey|api-key|key|secret|password|passwd|pwd|auth|signature|sig|code"
_SECRET_PARAMS = r"((?:^|[?&;])(?:" + _SECRET_NAMES + r")=)[^&#\s\"]+"
_SK_ANYWHERE = r"\bsk-[A-Za-z0-9_-]{16,}"
_BEARER_ANYWHERE = r"((?i:bearer|basic)\s+)[A-Za-z0-9_\-+/=.~]{8,}"


# Every pattern above needs one of these substrings, so text without them is returned untouched
# without running four regexes over it (most paths and referers of a day). ILIKE for the (?i) parts.
_CAN_HOLD_SECRET = "({x} LIKE '%eyJ%' OR {x} LIKE '%=%' OR {x} LIKE '%sk-%' OR {x} ILIKE '%bearer%' OR {x} ILIKE '%basic%')"


def redact_sql(expr: str) -> str:
    """SQL expression: `expr` with secrets in free text replaced by REDACTED."""
    out = f"regexp_replace({expr}, '{_JWT_ANYWHERE}', 'REDACTED_JWT', 'g')"
    out = f"regexp_replace({out}, '{_SECRET_PARAMS}', '\\1REDACTED', 'gi')"
    out = f"regexp_replace({out}, '{_SK_ANYWHERE}', 'REDACTED', 'g')"
    out = f"regexp_replace({out}, '{_BEARER_ANYWHERE}', '\\1REDACTED', 'g')"
    return f"(CASE WHEN {_CAN_HOLD_SECRET.format(x=expr)} THEN {out} ELSE {expr} END)"


@dataclass(frozen=True)
class TokenIdentity:
    token: str | None
    exp: datetime | None = None


def load_key(cfg: SecretsConfig) -> bytes | None:
    """The hashing key: GATEWARDEN_TOKEN_KEY, else the file named by GATEWARDEN_TOKEN_KEY_FILE or the config."""
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV].encode()
    key_file = os.environ.get(KEY_FILE_ENV) or (str(cfg.key_file) if cfg.key_file else None)
    if key_file:
        path = Path(key_file).expanduser()
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            raise SecretKeyMissing(
                f"Cannot read the token key file {path}: {exc.strerror}.",
                f"Create it with `gatewarden init --key-file {path}` or point {KEY_FILE_ENV} at a readable file.",
            ) from None
        if len(key) < 16:
            raise SecretKeyMissing(f"The token key in {path} is shorter than 16 bytes.", "Use a random key of 32 bytes or more.")
        return key
    return None


def keyed_hash(key: bytes, value: str) -> str:
    return "h:" + hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:24]


def _jwt_claims(token: str) -> dict | None:
    try:
        payload = token.split(".")[1]
        data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(data)
    except (IndexError, ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


class TokenClassifier:
    """Maps raw token values to identities. Raises SecretKeyMissing if a secret appears and no key is set."""

    def __init__(self, cfg: SecretsConfig):
        self._ids = [re.compile(p) for p in cfg.identifier_patterns]
        self._secrets = [re.compile(p) for p in cfg.secret_patterns]
        self._cfg = cfg
        self._key: bytes | None = None
        self._key_loaded = False

    def _hash(self, value: str) -> str:
        if not self._key_loaded:
            self._key = load_key(self._cfg)
            self._key_loaded = True
        if self._key is None:
            raise SecretKeyMissing(
                "The logs contain raw API keys or bearer tokens, and no hashing key is set, so they cannot be stored safely.",
                f"export {KEY_ENV}=$(openssl rand -hex 32), or set {KEY_FILE_ENV} / secrets.key_file "
                "(`gatewarden init --key-file PATH` creates one). Keep the key stable across nights.",
            )
        return keyed_hash(self._key, value)

    def classify(self, raw: str | None) -> TokenIdentity:
        if raw is None:
            return TokenIdentity(None)
        value = raw.strip().strip('"')
        if value in ("", "-"):
            return TokenIdentity(None)
        had_scheme = bool(AUTH_SCHEME_RE.match(value))
        value = AUTH_SCHEME_RE.sub("", value).strip()
        if JWT_RE.match(value):
            claims = _jwt_claims(value)
            if claims:
                exp = claims.get("exp")
                exp_ts = (
                    datetime.fromtimestamp(exp, UTC).replace(tzinfo=None)
                    if isinstance(exp, int | float) and 0 < exp < 1e11
                    else None
                )
                ident = claims.get("sub") or claims.get("jti")
                if isinstance(ident, str | int) and str(ident).strip():
                    return TokenIdentity(f"jwt:{str(ident)[:128]}", exp_ts)
                return TokenIdentity(self._hash(value), exp_ts)
            return TokenIdentity(self._hash(value))
        if not had_scheme and any(p.match(value) for p in self._ids):
            return TokenIdentity(value)
        if had_scheme or any(p.match(value) for p in self._secrets):
            return TokenIdentity(self._hash(value))
        return TokenIdentity(value)
