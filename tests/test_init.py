"""`gatewarden init`: the example config documents every key and loads back as the defaults."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

from pydantic import BaseModel

from gatewarden.config import Config, load_config


def _leaf_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            keys |= _leaf_keys(info.annotation, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def test_example_config_loads_back_as_the_defaults(cli, tmp_path: Path) -> None:
    path = tmp_path / "gatewarden.toml"
    result = cli("init", "--config", path)
    assert result.exit_code == 0, result.output
    assert load_config(path) == Config()
    text = path.read_text()
    for key in _leaf_keys(Config):
        assert f"{key.rsplit('.', 1)[1]} =" in text, f"{key} is missing from the example config"
    assert "# type: integer (optional), >= 1" in text
    assert "GATEWARDEN_TOKEN_KEY_FILE" in text


def test_init_refuses_to_overwrite_and_prints_with_dash(cli, tmp_path: Path) -> None:
    path = tmp_path / "gatewarden.toml"
    path.write_text("# mine\n")
    result = cli("init", "--config", path)
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert path.read_text() == "# mine\n"
    printed = cli("init", "--config", "-")
    assert printed.exit_code == 0
    assert tomllib.loads(printed.output)["database"]["memory_limit"] == "1GB"


def test_key_file_is_private_random_and_referenced(cli, tmp_path: Path) -> None:
    config, key = tmp_path / "gw.toml", tmp_path / "keys" / "token.key"
    assert cli("init", "--config", config, "--key-file", key).exit_code == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) >= 32
    assert load_config(config).secrets.key_file == key.resolve()
    first = key.read_text()
    again = cli("init", "--config", tmp_path / "other.toml", "--key-file", key)
    assert again.exit_code == 2 and key.read_text() == first


def test_unknown_key_is_one_clear_usage_error(cli, tmp_path: Path, db_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[database]\nmemory_limt = '2GB'\n")
    result = cli("analyze", "--config", path, "--db", db_path)
    assert result.exit_code == 2
    assert str(path) in result.output and "database.memory_limt" in result.output
    assert "Traceback" not in result.output


def test_wrong_type_names_the_key_and_expected_form(cli, tmp_path: Path, db_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[database]\nthreads = 'many'\n")
    result = cli("analyze", "--config", path, "--db", db_path)
    assert result.exit_code == 2
    assert "database.threads" in result.output and "integer" in result.output
    assert "Traceback" not in result.output


def test_environment_overrides_the_file(cli, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "gw.toml"
    cli("init", "--config", path)
    monkeypatch.setenv("GATEWARDEN_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("GATEWARDEN_DB", str(tmp_path / "env.duckdb"))
    cfg = load_config(path)
    assert cfg.database.memory_limit == "1GB"
    assert cfg.database.path == tmp_path / "env.duckdb"
