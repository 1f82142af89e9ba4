"""The deployment files are valid for the real binaries, and keep the settings tk9 relies on.

nginx and Caddy are Debian's (``scripts/install-sysdeps.sh``); no Docker engine runs here, so the
compose file and the Dockerfile are checked for the structure the docs promise.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

from tests.faults.harness.nginx import DEPLOY_CONF, REPO, Variant, render

DEPLOY = REPO / "deploy"
HEARTBEAT_DEFAULT = 15.0


def _nginx_t(text: str, prefix: Path) -> subprocess.CompletedProcess[str]:
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    return subprocess.run(
        ["nginx", "-t", "-p", str(prefix), "-c", str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_nginx_conf_passes_nginx_t_as_shipped(tmp_path: Path) -> None:
    # Only the upstream host (resolved at start) and the pid path differ from the shipped file.
    text = DEPLOY_CONF.read_text()
    text = text.replace("server tk9:8000;", "server 127.0.0.1:8000;")
    text = text.replace("pid /tmp/nginx.pid;", f"pid {tmp_path}/nginx.pid;")
    proc = _nginx_t(text, tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_every_harness_variant_of_nginx_conf_is_valid(tmp_path: Path) -> None:
    for variant in Variant:
        prefix = tmp_path / variant.value
        prefix.mkdir()
        text = render(
            upstreams=["127.0.0.1:8000"], listen="127.0.0.1:1", prefix=prefix, variant=variant
        )
        proc = _nginx_t(text, prefix)
        assert proc.returncode == 0, (variant, proc.stderr)


def test_nginx_conf_streams_are_unbuffered_and_outlive_the_heartbeat() -> None:
    text = DEPLOY_CONF.read_text()
    timeouts = [int(t) for t in re.findall(r"proxy_read_timeout (\d+)s;", text)]
    assert timeouts and min(timeouts) >= 4 * HEARTBEAT_DEFAULT
    sse = re.search(r"location ~ \^/api/sessions/\[\^/\]\+/stream\$ \{(.*?)\}", text, re.S)
    assert sse is not None and "proxy_buffering off;" in sse.group(1)
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $connection_upgrade;" in text
    assert "proxy_http_version 1.1;" in text


def test_caddyfile_validates_with_caddy(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TK9_SITE_ADDRESS": ":8081",
        "TK9_UPSTREAM": "127.0.0.1:8000",
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    proc = subprocess.run(
        ["caddy", "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    adapted = subprocess.run(
        ["caddy", "adapt", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    # SSE route flushes immediately.
    assert '"flush_interval":-1' in adapted


def test_compose_has_the_documented_services_profiles_and_volumes() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"tk9", "caddy", "nginx", "redis", "tk9-2", "worker-1", "worker-2"}
    assert "profiles" not in services["tk9"] and "profiles" not in services["caddy"]
    assert services["nginx"]["profiles"] == ["nginx"]
    assert services["redis"]["profiles"] == ["redis", "scale"]
    assert services["tk9"]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert "tk9-data:/data" in services["tk9"]["volumes"]
    assert services["tk9"]["environment"]["TK9_HOST"] == "0.0.0.0"
    assert "/api/health" in " ".join(services["tk9"]["healthcheck"]["test"])
    for mount in services["caddy"]["volumes"] + services["nginx"]["volumes"]:
        source = mount.split(":")[0]
        if source.startswith("./"):
            assert (DEPLOY / source).is_file(), source
    assert set(compose["volumes"]) >= {"tk9-data", "redis-data"}


def test_dockerfile_is_multi_stage_non_root_with_health_check() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)$", text, re.M)
    assert stages == ["frontend", "venv", "runtime"]
    assert "uv sync --frozen --no-dev" in text
    assert re.search(r"^USER tk9", text, re.M)
    assert "HEALTHCHECK" in text and "/api/health" in text
    assert "TK9_HOST=0.0.0.0" in text
    assert 'VOLUME ["/data"]' in text
    # Every path the build copies from the context exists (or is produced by the frontend build).
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for part in src.split():
            assert (REPO / part).exists() or part.startswith("frontend/"), part
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored and "frontend/node_modules" in ignored
