"""Scale-out figures (issue 12), on the topology of the compose profile ``scale`` run as real
processes (``tests/scale/cluster.py``: ``tk9 serve`` web nodes, ``tk9 worker`` processes, one
AOF ``redis-server``, Debian's Caddy with ``deploy/Caddyfile``)::

    uv run python bench/scale.py failover                 # kill -9 of a web node, 1,000 viewers
    uv run python bench/scale.py web --nodes 1,2,4        # 100 sessions x 10 viewers x 10 ev/s
    uv run python bench/scale.py workers --workers 1,2    # research runs per minute

* ``failover``: ``--viewers`` WebSocket viewers (the project's client, ``tk9.client``, as the
  fault suite runs it) follow one run through Caddy, balanced over two web nodes, while a worker
  executes it; then ``kill -9`` of the web node holding viewers. Per viewer that lost its
  connection: seconds from the kill to the first event it applied again (back on the stream,
  through Caddy, on the other node); and whether every viewer ended with exactly the log's
  events (none lost, none twice) and the snapshot's state.
* ``web``: the peer harness's shape (``bench/peers.py``) on 1, 2 and 4 web nodes sharing the
  Redis log: one in-process producer per session appending one event at a time at ``--rate``
  (``POST /api/_test/produce``, each node producing for its share of the sessions), viewers
  spread evenly over the nodes, connected directly (Caddy's own cost left out). Deliveries/s,
  share delivered, append -> receive latency, and the CPU seconds the web nodes and Redis used.
* ``workers``: ``--runs`` research runs (the real pipeline, extractive engine, offline corpus)
  submitted at once through one web node; runs per minute from the first submit to the last
  completion, with 1 and 2 workers (``TK9_MAX_CONCURRENT_RUNS`` = 2 per worker).

Everything (servers, workers, Redis, Caddy and the viewers) shares the machine's cores: the
figures compare the rows of one invocation, not machines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults.harness.checker import read_truth  # noqa: E402
from tests.log.redis_server import RedisServer  # noqa: E402
from tests.scale.cluster import Cluster, queue_env  # noqa: E402

from delivery import PADDING, Stats, pct, run, viewer, wait_for  # noqa: E402
from tk9.client import Applied, Replaced, SessionFollower  # noqa: E402
from tk9.protocol.follower import FollowerPolicy  # noqa: E402

TERMINAL = ("completed", "completed_with_warnings", "failed", "cancelled", "interrupted")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connections(url: str) -> int:
    """Open viewer connections on a node (its Prometheus metrics)."""
    text = httpx.get(url + "/metrics", timeout=10).text
    lines = [line for line in text.splitlines() if line.startswith("tk9_connections{")]
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in lines)


async def status(http: httpx.AsyncClient, sid: str) -> str:
    return str((await http.get(f"/api/sessions/{sid}")).json()["status"])


@dataclass
class Follower:
    """A light viewer for a thousand in one process: the project's client (its WebSocket
    transport, resume from the cursor, heartbeats, acks), recording only seqs and arrival
    times (no projection fold: the test with 50 viewers checks the state too)."""

    name: str
    base_url: str
    session_id: str
    heartbeat: float
    seed: int
    hedge: bool = True
    seqs: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    resets: int = 0
    error: BaseException | None = None
    follower: SessionFollower | None = None

    async def run(self) -> None:
        policy = FollowerPolicy(  # the client's defaults (the dashboard's), bar the heartbeat
            heartbeat_interval=self.heartbeat, max_open_attempts=3 if self.hedge else 1
        )
        rng = random.Random(self.seed)
        self.follower = SessionFollower(
            self.base_url, self.session_id, "ws", policy=policy, random=rng.random
        )
        try:
            async with self.follower as follower:
                async for update in follower:
                    if isinstance(update, Replaced):
                        self.resets += 1
                    elif isinstance(update, Applied):
                        self.seqs.append(update.event.seq)
                        self.times.append(time.monotonic())
        except Exception as exc:
            self.error = exc

    @property
    def connections(self) -> int:
        return self.follower.connections if self.follower else 0


async def failover(cluster: Cluster, args: argparse.Namespace) -> None:
    caddy = cluster.caddy
    assert caddy is not None
    victim, survivor = cluster.web
    sid = cluster.create(caddy, "tides and the moon", "en")
    viewers = [
        Follower(f"v{i}", caddy.url, sid, args.heartbeat, seed=i, hedge=not args.no_hedge)
        for i in range(args.viewers)
    ]
    tasks: list[asyncio.Task[None]] = []
    for v in viewers:  # a few at a time: a thousand upgrades at once is a different test
        tasks.append(asyncio.create_task(v.run()))
        await asyncio.sleep(0.002)
    deadline = time.monotonic() + args.timeout
    while not all(len(v.seqs) >= 10 for v in viewers):  # the worker's events are flowing
        if time.monotonic() > deadline or any(t.done() for t in tasks):
            raise SystemExit("not every viewer got on the stream in time (run too short?)")
        await asyncio.sleep(0.5)
    on_victim = await asyncio.to_thread(connections, victim.url)
    on_survivor = await asyncio.to_thread(connections, survivor.url)
    before = {v.name: (len(v.seqs), v.connections) for v in viewers}
    await asyncio.to_thread(victim.kill)
    killed = time.monotonic()
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), args.timeout)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    truth = await read_truth(survivor.url, sid)
    bad = [v for v in viewers if v.error or v.resets or v.seqs != truth.seqs]
    moved = [v for v in viewers if v.connections > before[v.name][1]]
    back = []
    for v in moved:
        after = [t for t in v.times[before[v.name][0] :] if t >= killed]
        back.append((after[0] - killed) if after else float("inf"))
    print(
        f"\nkill -9 of a web node: {args.viewers} viewers through Caddy over 2 web nodes "
        f"({on_victim} on the killed one, {on_survivor} on the other), "
        f"a worker appending an event every {args.interval:g} s; the run ended "
        f"{truth.snapshot.status.value} with {len(truth.seqs)} events; client hedging "
        f"{'off' if args.no_hedge else 'on'}\n"
    )
    print("| viewers | resumed | resume p50 s | p99 s | max s | lost/duplicated/out of order |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.viewers} | {len(moved)} | {pct(back, 0.5):.2f} | {pct(back, 0.99):.2f} "
        f"| {max(back, default=float('nan')):.2f} | {len(bad)} viewers |"
    )
    for v in bad[:10]:
        print(f"   {v.name}: error={v.error!r} resets={v.resets} seqs={len(v.seqs)}")


def failover_cluster(tmp: Path, redis: RedisServer, args: argparse.Namespace) -> Cluster:
    env = queue_env(
        redis.url,
        TK9_HEARTBEAT_INTERVAL=str(args.heartbeat),
        TK9_HEARTBEAT_TIMEOUT=str(args.heartbeat),
        TK9_DEMO_INTERVAL=str(args.interval),
        TK9_DEMO_EVENTS=str(args.events),
    )
    cluster = Cluster(redis, tmp / "data", env)
    cluster.data_dir.mkdir()
    cluster.start_web("web-1")
    cluster.start_web("web-2")
    cluster.worker()
    cluster.start_caddy()
    return cluster


async def until_ended(http: httpx.AsyncClient, sid: str, timeout: float) -> str:
    """The run's final status (bounded wait)."""
    deadline = time.monotonic() + timeout
    while True:
        if (now := await status(http, sid)) in TERMINAL:
            return now
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {sid} still {now} after {timeout} s")
        await asyncio.sleep(0.05)


# --- web nodes ------------------------------------------------------------------------------------


async def web(
    tmp: Path, redis: RedisServer, nodes: int, args: argparse.Namespace
) -> dict[str, float]:
    redis.flush()
    env = queue_env(redis.url, TK9_RUN_MODE="inline", TK9_TEST_HOOKS="1", TK9_DEMO_INTERVAL="0")
    cluster = Cluster(redis, tmp / f"web{nodes}" / "data", env)
    cluster.data_dir.mkdir(parents=True)
    try:
        for n in range(nodes):
            cluster.start_web(f"web-{n + 1}")
        first = cluster.web[0]
        cursors: dict[str, tuple[str, int]] = {}
        async with httpx.AsyncClient(base_url=first.url, timeout=60) as http:
            sids = [cluster.create(first, "Benchmark", "en") for _ in range(args.sessions)]
            for sid in sids:
                await until_ended(http, sid, 60)
                snap = (await http.get(f"/api/sessions/{sid}")).json()
                cursors[sid] = (snap["epoch"], snap["seq"])
        stats, stop = Stats(), asyncio.Event()
        tasks = []
        for i, sid in enumerate(sids):
            epoch, seq = cursors[sid]
            for j in range(args.viewers):
                node = cluster.web[(i * args.viewers + j) % nodes]
                url = f"ws://127.0.0.1:{node.port}/ws/sessions/{sid}?after={seq}&epoch={epoch}"
                tasks.append(asyncio.ensure_future(viewer(url, stats, stop)))
        expected_viewers = len(tasks)
        await wait_for(lambda: stats.hellos >= expected_viewers, 60, "every viewer")
        await asyncio.sleep(args.settle)
        events = max(1, round(args.rate * args.duration))
        pids = [w.proc.pid for w in cluster.web if w.proc is not None]
        redis_pid = redis._proc.pid
        cpu0 = [cpu_seconds(p) for p in [*pids, redis_pid]]
        stats.reset()
        t0 = time.perf_counter()
        async with httpx.AsyncClient(timeout=None) as http:
            shares = [sids[n::nodes] for n in range(nodes)]
            await asyncio.gather(
                *(
                    http.post(
                        f"{node.url}/api/_test/produce",
                        json={
                            "session_ids": share,
                            "events": events,
                            "rate": args.rate,
                            "padding": PADDING,
                        },
                    )
                    for node, share in zip(cluster.web, shares, strict=True)
                    if share
                )
            )
        expected = events * expected_viewers
        with contextlib.suppress(TimeoutError):
            await wait_for(lambda: stats.received >= expected, args.drain, "the last deliveries")
        wall = time.perf_counter() - t0
        cpu1 = [cpu_seconds(p) for p in [*pids, redis_pid]]
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        ms = [x * 1000 for x in stats.latencies]
        used = [b - a for a, b in zip(cpu0, cpu1, strict=True)]
        return {
            "nodes": nodes,
            "deliveries/s": stats.received / wall,
            "delivered %": 100.0 * stats.received / expected,
            "p50 ms": pct(ms, 0.5),
            "p99 ms": pct(ms, 0.99),
            "web CPU s": sum(used[:-1]),
            "redis CPU s": used[-1],
            "wall s": wall,
        }
    finally:
        cluster.stop()


# --- workers --------------------------------------------------------------------------------------


async def workers(
    tmp: Path, redis: RedisServer, count: int, args: argparse.Namespace
) -> dict[str, float]:
    redis.flush()
    env = queue_env(redis.url, TK9_DEMO_PRODUCER="0", TK9_USE_WIKI_CORPUS="true")
    env |= {"TK9_MAX_CONCURRENT_RUNS": str(2 * count), "TK9_WORKER_JOBS": "2"}
    env |= {"TK9_USER_MAX_ACTIVE_RUNS": "1000", "TK9_MAX_ACTIVE_RUNS": "1000"}
    data = tmp / "workers" / "data"  # shared by the rows: the corpus index is built once
    data.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(redis, data, env)
    try:
        node = cluster.start_web("web-1")
        for _ in range(count):
            cluster.worker()
        async with httpx.AsyncClient(base_url=node.url, timeout=60) as http:
            warm = cluster.create(node, "photosynthesis", "es")  # index, models: first use
            await until_ended(http, warm, 300)
            subjects = ["photosynthesis", "volcano", "the moon", "jazz", "the printing press"]
            t0 = time.perf_counter()
            sids = [
                cluster.create(node, subjects[i % len(subjects)], "es") for i in range(args.runs)
            ]
            ended: dict[str, str] = {}
            while len(ended) < len(sids):
                for sid in sids:
                    if sid not in ended and (s := await status(http, sid)) in TERMINAL:
                        ended[sid] = s
                await asyncio.sleep(0.1)
            wall = time.perf_counter() - t0
        ok = sum(1 for s in ended.values() if s.startswith("completed"))
        return {"workers": count, "runs": len(sids), "ok": ok, "wall s": wall,
                "runs/min": 60 * len(sids) / wall}  # fmt: skip
    finally:
        cluster.stop()


# --- main -----------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="tk9-scale-") as name:
        tmp = Path(name)
        (tmp / "redis").mkdir()
        redis = RedisServer(tmp / "redis", appendfsync="always")
        try:
            if args.mode == "failover":
                cluster = failover_cluster(tmp, redis, args)
                try:
                    await failover(cluster, args)
                finally:
                    cluster.stop()
            elif args.mode == "web":
                rows = [await web(tmp, redis, int(n), args) for n in args.nodes.split(",")]
                print(
                    f"\n{args.sessions} sessions x {args.viewers} viewers x {args.rate:g} "
                    f"events/s, {args.duration:g} s, Redis log (AOF always)\n"
                )
                print("| web nodes | deliveries/s | delivered | p50 ms | p99 ms "
                      "| web CPU s | Redis CPU s |")  # fmt: skip
                print("|---:|---:|---:|---:|---:|---:|---:|")
                for r in rows:
                    print(
                        f"| {r['nodes']:.0f} | {r['deliveries/s']:,.0f} | "
                        f"{r['delivered %']:.1f} % | {r['p50 ms']:.0f} | {r['p99 ms']:.0f} | "
                        f"{r['web CPU s']:.1f} | {r['redis CPU s']:.1f} |"
                    )
            else:
                rows = [await workers(tmp, redis, int(n), args) for n in args.workers.split(",")]
                print(f"\n{args.runs} research runs submitted at once (extractive, en -> es)\n")
                print("| workers | slots | completed | wall s | runs/min |")
                print("|---:|---:|---:|---:|---:|")
                for r in rows:
                    print(
                        f"| {r['workers']:.0f} | {2 * r['workers']:.0f} | {r['ok']:.0f}/"
                        f"{r['runs']:.0f} | {r['wall s']:.1f} | {r['runs/min']:.1f} |"
                    )
        finally:
            redis.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["failover", "web", "workers"])
    ap.add_argument("--viewers", type=int, help="failover: 1000; web: per session, 10")
    ap.add_argument("--interval", type=float, default=0.5, help="failover: s between events")
    ap.add_argument("--events", type=int, default=400, help="failover: events of the run")
    ap.add_argument("--no-hedge", action="store_true", help="failover: one open attempt at a time")
    ap.add_argument("--heartbeat", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--nodes", default="1,2,4")
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--rate", type=float, default=10.0, help="web: events/s per session")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--drain", type=float, default=20.0)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--runs", type=int, default=20)
    parsed = ap.parse_args()
    if parsed.viewers is None:
        parsed.viewers = 1000 if parsed.mode == "failover" else 10
    run(main(parsed))
