"""Gateway outputs, one module per format, all generated from decisions.json and rate_limits.json.

Adding a format is one module with `render(ctx) -> {relative path: text}` and one line below.
"""

from __future__ import annotations

from pathlib import Path

from gatewarden.emitters import cloudflare, feed, haproxy, nftables, nginx, ratelimit_envoy, ratelimit_nginx, text_lists
from gatewarden.emitters.base import Context
from gatewarden.files import write_atomic

EMITTERS = (
    text_lists,
    nginx,
    haproxy,
    nftables,
    cloudflare,
    feed,
    ratelimit_nginx,
    ratelimit_envoy,
)


def render_all(ctx: Context) -> dict[str, str]:
    files: dict[str, str] = {}
    for module in EMITTERS:
        files.update(module.render(ctx))
    return dict(sorted(files.items()))


def write_all(out_dir: Path, files: dict[str, str]) -> list[Path]:
    paths = []
    for rel, text in files.items():
        write_atomic(Path(out_dir) / rel, text)
        paths.append(Path(out_dir) / rel)
    return paths


__all__ = ["EMITTERS", "Context", "render_all", "write_all"]
