"""Generated gateway files pass the gateways' own config checks (nginx -t, haproxy -c, nft -c)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from decisions_helpers import ATTACK_FINDINGS, benign_and_attack_lines, insert_findings, load_json, write_log


@pytest.fixture
def out_dir(tmp_path, db_path, cli) -> Path:
    assert cli("ingest", write_log(tmp_path / "a.jsonl", benign_and_attack_lines()), "--db", db_path).exit_code == 0
    insert_findings(db_path, ATTACK_FINDINGS)
    # Low signals throttle here, so every action of the ladder reaches the gateway files under test.
    config = tmp_path / "gw.toml"
    config.write_text('[decisions]\nlow_action = "throttle"\n')
    result = cli("decide", "--out", tmp_path / "out", "--db", db_path, "--config", config)
    assert result.exit_code == 0, result.output
    return tmp_path / "out"


def need(binary: str) -> str:
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None)
    if not path:
        pytest.skip(f"{binary} is not installed (apt-get install {binary})")
    return path


def test_nginx_accepts_decisions_and_rate_limits(out_dir, tmp_path):
    nginx = need("nginx")
    conf = tmp_path / "nginx"
    shutil.copytree(out_dir / "nginx", conf / "gatewarden")
    (conf / "nginx.conf").write_text(f"""pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy; fastcgi_temp_path {tmp_path}/fcgi;
    uwsgi_temp_path {tmp_path}/uwsgi; scgi_temp_path {tmp_path}/scgi;
    include gatewarden/http.conf;
    include gatewarden/rate_limits_http.conf;
    server {{
        listen 127.0.0.1:18080;
        include gatewarden/server.conf;
        include gatewarden/rate_limits_server.conf;
    }}
}}
""")
    assert "2001:db8:1:2::/64 throttle_" in (conf / "gatewarden/ips.geo").read_text()
    run = subprocess.run([nginx, "-t", "-p", str(conf), "-c", str(conf / "nginx.conf")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_haproxy_accepts_maps_and_frontend(out_dir, tmp_path):
    haproxy = need("haproxy")
    maps = out_dir / "haproxy"
    frontend = (maps / "frontend.cfg").read_text().replace("/etc/haproxy/gatewarden", str(maps))
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 5s\n"
                   "frontend api\n    bind 127.0.0.1:18081\n" + frontend + "    default_backend app\n"
                   "backend app\n    server s1 127.0.0.1:18082\n")
    assert "192.0.2.0/24 block" in (maps / "ips.map").read_text()
    run = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_nftables_sets_parse(out_dir):
    nft = need("nft")
    text = (out_dir / "gatewarden.nft").read_text()
    assert "192.0.2.0/24 timeout 86400s" in text
    run = subprocess.run([nft, "-c", "-f", str(out_dir / "gatewarden.nft")], capture_output=True, text=True)
    if run.returncode != 0 and any(s in run.stderr for s in ("Operation not permitted", "Permission denied", "Netlink", "netlink")):
        pytest.skip(f"nft -c needs netlink privileges in this sandbox: {run.stderr.strip()[:200]}")
    assert run.returncode == 0, run.stderr


def test_cloudflare_lists_rules_and_feed(out_dir):
    block = load_json(out_dir / "cloudflare/ip_list_block.json")
    assert [i["ip"] for i in block] == ["192.0.2.0/24"]
    rules = {r["action"]: r["expression"] for r in load_json(out_dir / "cloudflare/custom_rules.json")}
    assert rules["block"] == '(ip.src in $gatewarden_block) or (any(http.request.headers["x-api-key"][*] eq "key_leaked01"))'
    assert rules["managed_challenge"] == '(cf.bot_management.ja4 eq "t13d_farm")'
    feed = (out_dir / "decisions.jsonl").read_text().splitlines()
    assert len(feed) == 4 and all('"type":"new"' in line for line in feed)
