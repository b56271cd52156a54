"""Known attack-path dictionaries (CrowdSec sec-lists, MIT, bundled in data/crowdsec-sec-lists) as SQL.

Each list becomes one RE2 alternation of escaped literals, so a window's DISTINCT paths are matched
in one pass per category instead of a paths x patterns cross join. How each list matches mirrors
CrowdSec's own scenarios (see data/crowdsec-sec-lists/SOURCES.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from gatewarden.parsers.base import sql_str

FOLDER = "crowdsec-sec-lists"


@dataclass(frozen=True)
class Category:
    name: str
    target: str  # 'path': lower-cased path without query; 'target': lower-cased request target with query
    anchor: str  # regex template around the alternation: {alt}
    literals: tuple[str, ...]


def _lines(name: str) -> list[str]:
    text = (resources.files("gatewarden") / "data" / FOLDER / name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _json_lines(name: str) -> list[dict]:
    return [json.loads(line) for line in _lines(name)]


@cache
def categories() -> tuple[Category, ...]:
    tech = _json_lines("technology_probing.json")
    return (
        Category("admin_interface", "path", "^(?:{alt})", tuple(_lines("admin_interfaces.txt"))),
        Category("backdoor", "path", "(?:^|/)(?:{alt})$", tuple(_lines("backdoors.txt"))),
        Category("sensitive_file", "path", "(?:{alt})$", tuple(_lines("sensitive_data.txt"))),
        Category("path_traversal", "target", "(?:{alt})", tuple(_lines("path_traversal.txt"))),
        Category("sqli_probe", "target", "(?:{alt})", tuple(_lines("sqli_probe_patterns.txt"))),
        Category("xss_probe", "target", "(?:{alt})", tuple(_lines("xss_probe_patterns.txt"))),
        Category("cve_probe", "target", "(?:{alt})", tuple(d["uri"] for d in _json_lines("trendy_cves_uris.json"))),
        Category("technology_probe", "path", "^(?:{alt})$", tuple(d["pattern"] for d in tech if d["type"] == "equals")),
        Category("technology_probe", "path", "(?:{alt})", tuple(d["pattern"] for d in tech if d["type"] == "contains")),
    )


def category_sql(path_expr: str) -> str:
    """SQL: the first attack category `path_expr` (a request target as logged) matches, else NULL."""
    targets = {"path": f"lower(split_part({path_expr}, '?', 1))", "target": f"lower({path_expr})"}
    whens = []
    for cat in categories():
        alt = "|".join(re.escape(lit.lower()) for lit in sorted(set(cat.literals), key=len, reverse=True))
        regex = cat.anchor.format(alt=alt)
        whens.append(f"WHEN regexp_matches({targets[cat.target]}, {sql_str(regex)}) THEN '{cat.name}'")
    return "CASE " + " ".join(whens) + " END"
