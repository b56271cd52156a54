"""OpenAPI 3 specs (YAML or JSON): path templates, methods per path, query parameters per operation.

Ingest uses the templates for `endpoint` (they win over the built-in id rules); the schema detector uses
methods and query parameters to spot unknown paths, methods and parameters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from gatewarden.errors import ConfigError

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    query_params: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PathSpec:
    template: str  # `/v1/chats/{chat_id}/messages`, with the servers' base path prefixed
    regex: str  # full-match regex for a request path (no query)
    operations: dict[str, Operation] = field(default_factory=dict)

    @property
    def methods(self) -> frozenset[str]:
        return frozenset(self.operations)


def template_regex(template: str) -> str:
    """`/v1/chats/{chat_id}` -> `/v1/chats/[^/]+`; a trailing slash is optional."""
    parts = re.split(r"(\{[^}/]+\})", template.rstrip("/") or "/")
    body = "".join("[^/]+" if p.startswith("{") and p.endswith("}") else re.escape(p) for p in parts)
    return body + "/?"


def _specificity(spec: PathSpec) -> tuple[int, int, int]:
    """Most specific first: more literal segments, then more segments, then longer literal text."""
    segments = [s for s in spec.template.split("/") if s]
    literal = [s for s in segments if not (s.startswith("{") and s.endswith("}"))]
    return (-len(literal), -len(segments), -sum(len(s) for s in literal))


def _base_path(doc: dict) -> str:
    servers = doc.get("servers") or []
    url = servers[0].get("url", "") if servers and isinstance(servers[0], dict) else ""
    path = re.sub(r"^[a-z]+://[^/]*", "", url)
    return "" if path in ("", "/") or "{" in path else path.rstrip("/")


def _params(items: list | None, doc: dict) -> set[str]:
    names = set()
    for item in items or []:
        if isinstance(item, dict) and "$ref" in item:
            ref = item["$ref"]
            node: object = doc
            for key in ref.lstrip("#/").split("/"):
                node = node.get(key, {}) if isinstance(node, dict) else {}
            item = node
        if isinstance(item, dict) and item.get("in") == "query" and item.get("name"):
            names.add(str(item["name"]))
    return names


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> tuple[PathSpec, ...]:
    text = Path(path).read_text(encoding="utf-8")
    try:
        doc = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"endpoints.openapi {path} is not valid JSON/YAML: {str(exc).splitlines()[0]}",
                          "Point endpoints.openapi at an OpenAPI 3 spec.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
        raise ConfigError(f"endpoints.openapi {path} has no `paths` object.", "Point endpoints.openapi at an OpenAPI 3 spec.")
    base = _base_path(doc)
    specs = []
    for template, item in doc["paths"].items():
        if not isinstance(item, dict) or not str(template).startswith("/"):
            continue
        shared = _params(item.get("parameters"), doc)
        ops = {m.upper(): Operation(m.upper(), frozenset(shared | _params(op.get("parameters"), doc)))
               for m, op in item.items() if m in HTTP_METHODS and isinstance(op, dict)}
        full = base + str(template)
        specs.append(PathSpec(full, template_regex(full), ops))
    return tuple(sorted(specs, key=_specificity))


def load_openapi(path: Path) -> tuple[PathSpec, ...]:
    """The spec's paths, most specific first (so `/v1/chats/search` wins over `/v1/chats/{id}`)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"endpoints.openapi {p} does not exist.", "Fix the path in the config or remove the key.")
    return _load(str(p.resolve()), p.stat().st_mtime)


def match_template(specs: tuple[PathSpec, ...], path: str) -> PathSpec | None:
    """Python twin of the SQL matching (for tests and the schema detector's single lookups)."""
    clean = path.split("?", 1)[0].split("#", 1)[0]
    return next((s for s in specs if re.fullmatch(s.regex, clean)), None)
