"""The shared delivery path (pump + broadcaster) with fake ports, a memory log and a fake clock.

Every transport (WebSocket, SSE) goes through this path, so these tests cover all of them:
pull until caught up, push after that, one encoding per batch, a stalled viewer costs the
others nothing, and a gap in the log ends the stream with an explicit ``resync`` instead of a
re-read loop (the old SSE bug: 39,008 reads in 0.5 s after a live trim).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import pytest

from tk9.clock import FakeClock
from tk9.errors import CloseCode
from tk9.events import Event, EventType
from tk9.log.memory import MemoryEventLog
from tk9.protocol.connection import Output, ServerConnection
from tk9.server.context import AppContext
from tk9.server.delivery import Closed, Data, Viewer, start_send
from tk9.server.metrics import Metrics
from tk9.server.snapshots import SnapshotCache
from tk9.server.tracking import TrackingLog

from .conftest import make_settings

SID = "s1"


class CountingLog(MemoryEventLog):
    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.reads = 0

    async def read(self, session_id: str, after: int, limit: int = 1000) -> list[Event]:
        self.reads += 1
        return await super().read(session_id, after, limit)


class WaitOnlyLog(CountingLog):
    """A backend that cannot hand over its commits (like Redis): the broadcaster reads."""

    def listen(
        self, session_id: str, listener: Callable[[Sequence[Event] | None], None]
    ) -> Callable[[], None] | None:
        return None


class FakePort:
    """Records writes; ``gate`` (when set) makes every write suspend until it opens.

    With ``direct`` it also takes broadcast writes synchronously (``write_now``), refusing
    them while the gate is closed, like the WebSocket frame port refuses a paused socket.
    """

    kind = "fake"
    joins_frames = False

    def __init__(self, direct: bool = False) -> None:
        self.writes: list[Data] = []
        self.encodings = 0
        self.gate: asyncio.Event | None = None
        self.direct = direct
        self.direct_writes = 0

    def encode_events(self, events: list[Event]) -> Data:
        self.encodings += 1
        return ",".join(str(e.seq) for e in events)

    def encode_control(self, frame: Output) -> Data | None:
        return None

    def send(self, data: Data) -> Coroutine[Any, Any, None]:
        return self._send(data)

    async def _send(self, data: Data) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.writes.append(data)

    def write_now(self, data: Data) -> bool | None:
        if not self.direct:
            return None
        if self.gate is not None and not self.gate.is_set():
            return False
        self.writes.append(data)
        self.direct_writes += 1
        return True

    def seqs(self) -> list[int]:
        return [int(s) for w in self.writes for s in str(w).split(",")]


class Harness:
    def __init__(self, tmp_path: Path, listening: bool = True) -> None:
        self.clock = FakeClock()
        self.log = CountingLog(self.clock) if listening else WaitOnlyLog(self.clock)
        metrics = Metrics()
        self.ctx = AppContext(
            settings=make_settings(tmp_path),
            clock=self.clock,
            log=TrackingLog(self.log, metrics),
            runs=None,  # type: ignore[arg-type]
            metrics=metrics,
            snapshots=SnapshotCache(self.log),
        )
        self.tasks: list[asyncio.Task[None]] = []

    async def append(self, n: int) -> None:
        for _ in range(n):
            await self.ctx.log.append(SID, EventType.LOG, {"level": "info", "message": "m"})

    def viewer(
        self, after: int = 0, direct: bool = False
    ) -> tuple[Viewer, FakePort, asyncio.Task[None]]:
        conn = ServerConnection(SID, self.epoch, self.ctx.protocol_config, self.clock.monotonic())
        conn.start(after, self.head)
        port = FakePort(direct)
        viewer = Viewer(self.ctx, conn, port, "ws")
        self.ctx.broadcasts.attach(SID, self.head)
        task = asyncio.ensure_future(viewer.pump())
        self.tasks.append(task)
        return viewer, port, task

    async def open(self) -> None:
        info = await self.log.create(SID, {})
        self.epoch, self.head = info.epoch, 0

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.ctx.broadcasts.close()


async def until(cond: Callable[[], bool], what: str, loops: int = 2000) -> None:
    """Yield to the loop until ``cond`` holds (bounded; no sleeping on wall time)."""
    for _ in range(loops):
        if cond():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"timed out waiting for {what}")


async def run(
    tmp_path: Path, body: Callable[[Harness], Awaitable[None]], listening: bool = True
) -> None:
    h = Harness(tmp_path, listening)
    await h.open()
    try:
        await body(h)
    finally:
        await h.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("direct", [False, True], ids=["send", "write_now"])
@pytest.mark.parametrize("listening", [True, False], ids=["listener", "wait"])
async def test_caught_up_viewers_get_one_shared_encoding_pushed(
    tmp_path: Path, direct: bool, listening: bool
) -> None:
    async def body(h: Harness) -> None:
        await h.append(3)
        viewers = [h.viewer(direct=direct) for _ in range(5)]
        await until(lambda: all(p.seqs() == [1, 2, 3] for _, p, _ in viewers), "catch-up")
        b = h.ctx.broadcasts.by_session[SID]
        await until(lambda: len(b.members) == 5, "all parked in the broadcast set")
        reads = h.log.reads
        await h.append(1)
        await until(lambda: all(p.seqs() == [1, 2, 3, 4] for _, p, _ in viewers), "push")
        pushed = [p.writes[-1] for _, p, _ in viewers]
        assert all(w is pushed[0] for w in pushed)  # encoded once, the same text for all
        for _ in range(20):
            await asyncio.sleep(0)
        # handed over by the log as it committed: nobody read it; without a listener, the
        # broadcaster read it once; either way no viewer did
        assert h.log.reads - reads == (0 if listening else 1)
        assert all(v.conn.stats.delivered == 4 for v, _, _ in viewers)
        # the push went through the synchronous write when the port has one
        assert all(p.direct_writes == (1 if direct else 0) for _, p, _ in viewers)

    await run(tmp_path, body, listening)


@pytest.mark.asyncio
async def test_commits_of_one_tick_go_out_as_the_first_then_one_frame(tmp_path: Path) -> None:
    async def body(h: Harness) -> None:
        viewers = [h.viewer(direct=True) for _ in range(3)]
        b = h.ctx.broadcasts.by_session[SID]
        await until(lambda: len(b.members) == 3, "parked")
        reads = h.log.reads
        items = [(EventType.LOG, {"level": "info", "message": f"m{i}"}) for i in range(5)]
        await h.ctx.log.append_many(SID, items)  # five commits in one tick
        await until(lambda: all(p.seqs() == [1, 2, 3, 4, 5] for _, p, _ in viewers), "push")
        assert all(p.writes == ["1", "2,3,4,5"] for _, p, _ in viewers)
        assert h.log.reads == reads  # nothing was read: all handed over by the log

    await run(tmp_path, body)


@pytest.mark.asyncio
@pytest.mark.parametrize("direct", [False, True], ids=["send", "write_now"])
@pytest.mark.parametrize("listening", [True, False], ids=["listener", "wait"])
async def test_a_stalled_viewer_costs_the_others_nothing_then_catches_up(
    tmp_path: Path, direct: bool, listening: bool
) -> None:
    async def body(h: Harness) -> None:
        fast = [h.viewer(direct=direct) for _ in range(3)]
        slow, slow_port, _ = h.viewer(direct=direct)
        b = h.ctx.broadcasts.by_session[SID]
        await until(lambda: len(b.members) == 4, "parked")
        slow_port.gate = asyncio.Event()
        for i in range(1, 51):
            await h.append(1)
            await until(lambda i=i: all(p.seqs()[-1:] == [i] for _, p, _ in fast), f"push {i}")
        assert slow not in b.members and slow_port.seqs() == []
        slow_port.gate.set()
        await until(lambda: slow_port.seqs() == list(range(1, 51)), "slow viewer catches up")
        await until(lambda: slow in b.members, "slow viewer rejoins")
        await h.append(1)
        await until(lambda: slow_port.seqs()[-1] == 51, "pushed again")

    await run(tmp_path, body, listening)


@pytest.mark.asyncio
async def test_catch_up_reads_big_pages_but_a_stall_holds_only_what_is_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Viewer, "page_hold", 0.0)  # a stall that outlasts the hold

    async def body(h: Harness) -> None:
        await h.append(3000)
        h.head = 3000
        limit = h.ctx.protocol_config.outbound_limit
        reads = h.log.reads
        viewer, port, _ = h.viewer()
        port.gate = asyncio.Event()  # the first write suspends: the viewer is stalled
        await until(lambda: viewer.busy is None and viewer.send_lock.locked(), "stalled")
        assert viewer.page == []  # the rest of the page was dropped, not held
        assert viewer.conn.read_request() <= limit
        port.gate.set()
        port.gate = None
        await until(lambda: port.seqs() == list(range(1, 3001)), "caught up")
        # pages of replay_batch, not of outbound_limit (+1: the broadcaster's look at its start)
        assert h.log.reads - reads <= 4

    await run(tmp_path, body)


@pytest.mark.asyncio
async def test_a_socket_that_drains_keeps_its_page_no_read_per_socket_buffer(
    tmp_path: Path,
) -> None:
    """A catch-up whose writes suspend every few frames (a client slower than the server, as
    on any long replay) is fed from the page it read, not from a new read per drain."""

    async def body(h: Harness) -> None:
        await h.append(3000)
        h.head = 3000
        reads = h.log.reads
        viewer, port, _ = h.viewer()
        for _ in range(5):  # five stalls, each released at once: the socket drains
            port.gate = asyncio.Event()
            await until(lambda: viewer.busy is None and viewer.send_lock.locked(), "stalled")
            assert viewer.page  # the rest of the page is kept meanwhile
            assert viewer.conn.read_request() <= h.ctx.protocol_config.outbound_limit
            gate, port.gate = port.gate, None
            gate.set()
        await until(lambda: port.seqs() == list(range(1, 3001)), "caught up")
        # one page, the read that finds nothing new, and the broadcaster's look at its start
        assert h.log.reads - reads <= 3

    await run(tmp_path, body)


@pytest.mark.asyncio
async def test_a_gap_after_a_live_trim_closes_with_resync_not_a_read_loop(tmp_path: Path) -> None:
    async def body(h: Harness) -> None:
        await h.append(5)
        viewer, port, task = h.viewer()
        b = h.ctx.broadcasts.by_session[SID]
        await until(lambda: viewer in b.members, "parked")
        reads = h.log.reads
        # entries 6..10 land and 1..7 are trimmed before anything is fanned out
        for _ in range(5):
            await h.log.append(SID, EventType.LOG, {"level": "info", "message": "m"})
        await h.log.trim(SID, 8)
        await until(task.done, "the pump ends")
        exc = task.exception()
        assert isinstance(exc, Closed) and exc.close.code == CloseCode.TRY_AGAIN_LATER
        assert exc.close.frame is not None and exc.close.frame.code == "resync"
        assert port.seqs() == [1, 2, 3, 4, 5]  # never a hole
        assert h.log.reads - reads <= 3

    # a log that hands over its commits would fan 6..10 out as they land: no gap to test
    await run(tmp_path, body, listening=False)


@pytest.mark.asyncio
async def test_start_send_runs_a_writable_write_without_a_task() -> None:
    done: list[int] = []

    async def quick() -> None:
        done.append(1)

    assert start_send(quick()) is None and done == [1]
    gate = asyncio.Event()

    async def blocked() -> None:
        await gate.wait()
        done.append(2)

    fut = start_send(blocked())
    assert fut is not None and not fut.done()
    gate.set()
    await fut
    assert done == [1, 2]
