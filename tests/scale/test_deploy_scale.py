"""The compose profile ``scale`` is the topology the other tests here run as processes: every
tk9 process in queue mode on the Redis log with its own node id and the shared data volume,
workers running ``tk9 worker``, Redis with AOF fsynced on every write, Caddy balancing the web
nodes — and Debian's docker-compose 1.29 accepts the file with ``scale.env``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def scale_env() -> dict[str, str]:
    lines = (DEPLOY / "scale.env").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    return {k: v for k, v in pairs}


def test_the_scale_profile_has_two_web_nodes_two_workers_and_redis_with_aof() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    env = scale_env()
    assert env["COMPOSE_PROFILES"] == "scale"
    assert env["TK9_RUN_MODE"] == "queue" and env["TK9_LOG_BACKEND"] == "redis"
    assert env["TK9_UPSTREAM"].split() == ["tk9:8000", "tk9-2:8000"]
    scale = {name for name, s in services.items() if "scale" in s.get("profiles", [])}
    assert scale == {"tk9-2", "worker-1", "worker-2", "redis"}
    tk9_nodes = ["tk9", "tk9-2", "worker-1", "worker-2"]
    ids = [env["TK9_NODE_ID"]] + [services[n]["environment"]["TK9_NODE_ID"] for n in tk9_nodes[1:]]
    assert len(set(ids)) == 4  # a node id per process
    for name in tk9_nodes:
        service = services[name]
        assert "tk9-data:/data" in service["volumes"]  # the shared volume
        environment = service["environment"]
        assert environment["TK9_RUN_MODE"] == "${TK9_RUN_MODE:-inline}"
        assert environment["TK9_LOG_BACKEND"] == "${TK9_LOG_BACKEND:-sqlite}"
    for name in ("worker-1", "worker-2"):
        assert services[name]["command"] == ["tk9", "worker"]
        assert services[name]["healthcheck"] == {"disable": True}
    command = services["redis"]["command"]
    assert command[command.index("--appendfsync") + 1] == "always"
    assert services["caddy"]["environment"]["TK9_UPSTREAM"] == "${TK9_UPSTREAM:-tk9:8000}"


def test_docker_compose_accepts_the_scale_profile(tmp_path: Path) -> None:
    binary = shutil.which("docker-compose")
    assert binary is not None, "docker-compose (Debian package) is not installed"
    args = ["-p", "tk9", "-f", "compose.yaml", "--env-file", "scale.env", "--profile", "scale"]
    out = subprocess.run(
        [binary, *args, "config"],
        cwd=DEPLOY,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    rendered = yaml.safe_load(out.stdout)["services"]
    assert rendered["caddy"]["environment"]["TK9_UPSTREAM"] == "tk9:8000 tk9-2:8000"
    assert rendered["tk9"]["environment"]["TK9_NODE_ID"] == "web-1"
    assert rendered["worker-2"]["environment"]["TK9_RUN_MODE"] == "queue"
