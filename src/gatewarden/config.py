"""The one configuration object, loaded from a TOML file and validated.

Every field has a documented default, so an empty file (or none) is a valid configuration.
Secrets are never read from here: the token-hashing key comes from the environment or a key file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import Field, ValidationError

from gatewarden.decisions.config import DecisionsConfig
from gatewarden.detectors.config import DetectorsConfig
from gatewarden.errors import ConfigError
from gatewarden.ops.config import OperationsConfig
from gatewarden.reports.config import ReportsConfig
from gatewarden.settings import Section


class DatabaseConfig(Section):
    path: Path = Field(Path("gatewarden.duckdb"), description="DuckDB file holding requests, findings and state.")
    memory_limit: str = Field(
        "1GB",
        description="DuckDB memory_limit; work beyond it spills to temp_directory, so a day larger than RAM still runs. "
        "Process RSS runs ~0.5 GB above it (query intermediates, Python): 1GB kept a 10M-line run at 1.5 GB peak, "
        "while 4GB let it reach 4.5 GB for no speed-up on 2 cores.",
    )
    temp_directory: Path | None = Field(None, description="Spill directory; default: `<path>.tmp` next to the database.")
    threads: int | None = Field(None, ge=1, description="DuckDB worker threads; default: all cores.")


class SecretsConfig(Section):
    key_file: Path | None = Field(
        None,
        description="File holding the token-hashing key. GATEWARDEN_TOKEN_KEY (the key) or "
        "GATEWARDEN_TOKEN_KEY_FILE (a path) in the environment win over it.",
    )
    identifier_patterns: list[str] = Field(
        default_factory=lambda: [r"^(key|tok|usr|user|cus|acct|org|proj|app|client)_[A-Za-z0-9]{2,64}$"],
        description="Regexes of token values that are opaque identifiers, kept as logged.",
    )
    secret_patterns: list[str] = Field(
        default_factory=lambda: [
            r"^sk-[A-Za-z0-9_-]{16,}$",
            r"^(sk|rk|pk)_(live|test)_[A-Za-z0-9]{10,}$",
            r"^gh[pousr]_[A-Za-z0-9]{30,}$",
            r"^AKIA[0-9A-Z]{16}$",
            r"^xox[abprs]-[A-Za-z0-9-]{10,}$",
            r"^[A-Za-z0-9_\-+/=.]{24,}$",
        ],
        description="Regexes of raw secrets. A match is replaced by `h:<keyed hash>` before anything is stored; "
        "any value sent as `Authorization: Bearer/Basic` is treated as a secret too.",
    )


class IngestConfig(Section):
    max_reject_ratio: float = Field(
        0.05, ge=0, le=1, description="Above this share of rejected lines a file is refused with one clear error."
    )
    chunk_mb: int = Field(64, ge=1, le=4096, description="Uncompressed bytes parsed per batch; bounds memory.")
    reject_text_bytes: int = Field(4096, ge=64, description="Raw text kept per rejected line (cut beyond).")
    field_map: dict[str, str] = Field(
        default_factory=dict, description="canonical = source field, for JSONL/CSV exports with other names."
    )
    log_format: str | None = Field(None, description="nginx log_format string used when --log-format is not given.")


class EndpointsConfig(Section):
    openapi: Path | None = Field(None, description="OpenAPI 3 spec; its path templates win over the rules below.")
    rules: list[tuple[str, str]] = Field(
        default_factory=list,
        description="Extra (regex, replacement) rules applied to each path segment before the built-in id rules.",
    )


class EnrichConfig(Section):
    hosting_asns_extra: list[int] = Field(default_factory=list, description="ASNs to treat as hosting/datacenter too.")
    hosting_asns_exclude: list[int] = Field(default_factory=list, description="ASNs never treated as hosting.")


class Config(Section):
    database: DatabaseConfig = DatabaseConfig()
    secrets: SecretsConfig = SecretsConfig()
    ingest: IngestConfig = IngestConfig()
    endpoints: EndpointsConfig = EndpointsConfig()
    enrich: EnrichConfig = EnrichConfig()
    detectors: DetectorsConfig = DetectorsConfig()
    decisions: DecisionsConfig = DecisionsConfig()
    reports: ReportsConfig = ReportsConfig()
    operations: OperationsConfig = OperationsConfig()


ENV_OVERRIDES = {
    "GATEWARDEN_DB": ("database", "path"),
    "GATEWARDEN_TEMP_DIR": ("database", "temp_directory"),
    "GATEWARDEN_MEMORY_LIMIT": ("database", "memory_limit"),
}


def load_config(path: Path | None = None) -> Config:
    """Load and validate `path` (or defaults), then apply environment overrides."""
    raw: dict = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"Config file {path} does not exist.", "Create one with `gatewarden init`.") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Config file {path} is not valid TOML: {exc}.", "Fix the syntax at that line.") from None
    for env, (section, key) in ENV_OVERRIDES.items():
        if os.environ.get(env):
            raw.setdefault(section, {})[key] = os.environ[env]
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        source = path or "the environment"
        raise ConfigError(
            f"Config {source}: key `{where}`: {err['msg']} (got {err.get('input')!r}).",
            "See `gatewarden init` for every key with its type and default.",
        ) from None
