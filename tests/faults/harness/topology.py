"""One scenario's world: tk9 server(s) in their own namespaces, nginx in front, helpers to
create a session, run viewers, and score the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.faults.harness import netns
from tests.faults.harness.checker import check_viewer, read_truth
from tests.faults.harness.nginx import Nginx, Variant, free_port, wait_port
from tests.faults.harness.report import Row
from tests.faults.harness.server import ServerProcess
from tests.faults.harness.viewers import Viewer

HEARTBEAT = 1.0
HEARTBEAT_TIMEOUT = 1.5


@dataclass
class Topology:
    stack: contextlib.ExitStack
    hosts: list[netns.Host]
    servers: list[ServerProcess]
    nginx: Nginx
    started: float = field(default_factory=time.monotonic)

    def __enter__(self) -> Topology:
        return self

    def __exit__(self, *exc: object) -> None:
        for host in self.hosts:
            host.clear_rules()
        self.stack.close()

    @property
    def server(self) -> ServerProcess:
        return self.servers[0]

    @property
    def url(self) -> str:
        return self.nginx.url

    async def create_session(self, subject: str) -> str:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            resp = await http.post("/api/sessions", json={"subject": subject, "language": "en"})
            resp.raise_for_status()
            return str(resp.json()["session_id"])

    async def head(self, session_id: str) -> int:
        for server in self.servers:
            with contextlib.suppress(httpx.HTTPError):
                async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
                    snap = (await http.get(f"/api/sessions/{session_id}")).json()
                    return int(snap["seq"])
        raise RuntimeError("no server answered")

    async def score(
        self,
        scenario: str,
        fault: str,
        session_id: str,
        viewers: list[Viewer],
        *,
        fault_end: float | None = None,
        head_at_end: int | None = None,
    ) -> tuple[Row, list[str]]:
        truth = await read_truth(self.servers[0].url, session_id)
        problems = [p for v in viewers for p in check_viewer(v, truth)]
        catch_ups: list[float] | None = None
        if fault_end is not None and head_at_end is not None:
            catch_ups = []
            for v in viewers:
                t = v.reached(head_at_end)
                if t is None:
                    problems.append(f"{v.name}: never applied seq {head_at_end}")
                else:
                    catch_ups.append(max(0.0, t - fault_end))
            if os.environ.get("TK9_FAULTS_TRACE"):
                _print_traces(scenario, viewers, fault_end, head_at_end)
        row = Row(
            scenario=scenario,
            fault=fault,
            events=len(truth.seqs),
            viewers=len(viewers),
            resumes=sum(v.resumes for v in viewers),
            resets=sum(len(v.resets) for v in viewers),
            violations=sum(1 for v in viewers if check_viewer(v, truth)),
            catch_ups=catch_ups,
            seconds=time.monotonic() - self.started,
        )
        return row, problems


def build(
    *,
    servers: int = 1,
    env: dict[str, str] | None = None,
    variant: Variant = Variant.GOOD,
    read_timeout: float | None = None,
    redis: bool = False,
) -> Topology:
    """Make namespaces, start tk9 in each, and nginx (root namespace) in front of them all."""
    stack = contextlib.ExitStack()
    try:
        hosts = stack.enter_context(netns.hosts(servers))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tk9faults-")))
        procs: list[ServerProcess] = []
        base_env = {
            "TK9_HEARTBEAT_INTERVAL": str(HEARTBEAT),
            "TK9_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
            "TK9_SEND_TIMEOUT": "3",
            "TK9_SSE_KEEPALIVE": str(HEARTBEAT),
            "TK9_DEMO_INTERVAL": "0.02",
            "TK9_DEMO_EVENTS": "150",
            **(env or {}),
        }
        redis_port = free_port() if redis else 0
        if redis:
            stack.enter_context(_redis_server([h.gateway for h in hosts], redis_port, workdir))
        for i, host in enumerate(hosts):
            data = workdir / f"server{i}"
            data.mkdir()
            env_i = dict(base_env)
            if redis:
                env_i |= {
                    "TK9_LOG_BACKEND": "redis",
                    "TK9_REDIS_URL": f"redis://{host.gateway}:{redis_port}/0",
                }
            proc = ServerProcess(data_dir=data, host=host, env=env_i)
            stack.callback(proc.stop)
            proc.start()
            procs.append(proc)
        nginx = Nginx(
            prefix=workdir / "nginx",
            port=free_port(),
            upstreams=[p.upstream for p in procs],
            variant=variant,
            read_timeout=read_timeout,
            listen_host=hosts[0].gateway,
        )
        stack.callback(nginx.stop)
        nginx.start()
    except BaseException:
        stack.close()
        raise
    return Topology(stack=stack, hosts=hosts, servers=procs, nginx=nginx)


@contextlib.contextmanager
def _redis_server(addresses: list[str], port: int, workdir: Path) -> Iterator[None]:
    """A real redis-server listening only on the namespaces' gateway addresses."""
    proc = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            *addresses,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(addresses[0], port, timeout=10)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def run_viewers(viewers: list[Viewer]) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(v.run(), name=v.name) for v in viewers]


async def finish(tasks: list[asyncio.Task[None]], timeout: float) -> None:
    """Wait (bounded) for every viewer to reach the end of the run."""
    _done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if pending:
        names = ", ".join(t.get_name() for t in pending)
        raise TimeoutError(f"viewers did not finish within {timeout} s: {names}")


def _print_traces(scenario: str, viewers: list[Viewer], fault_end: float, head: int) -> None:
    """Each viewer's client trace around the end of the fault, times relative to it."""
    for v in viewers:
        t = v.reached(head)
        got = "never" if t is None else f"{(t - fault_end) * 1000:+.0f} ms"
        print(f"\n{scenario} {v.name}: head {head} reached {got}")
        for at, what in v.trace:
            if at >= fault_end - 8:
                print(f"  {(at - fault_end) * 1000:+8.0f} ms  {what}")
