"""summary.json: the report's data for dashboards, stable key order and no wall-clock fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gatewarden.files import write_atomic


def write_summary_json(d: dict[str, Any], out_dir: Path) -> Path:
    path = out_dir / "summary.json"
    write_atomic(path, json.dumps(d, indent=2, default=str, ensure_ascii=False) + "\n")
    return path
