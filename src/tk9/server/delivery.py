"""One delivery path for every streaming transport: a port, a pump, a watchdog.

A transport (WebSocket, SSE) is a :class:`Port`: it encodes frames its own way and writes
them; everything else is here, once:

* :class:`Viewer` drives one :class:`~tk9.protocol.connection.ServerConnection`. Its pump
  catches up by reading the log after the cursor (pull), and once a read finds nothing new it
  joins its session's :class:`~tk9.server.broadcast.Broadcaster` and parks: from then on the
  broadcaster writes each committed batch to it directly (push). The broadcaster wakes the pump
  when the viewer falls out of step (behind, busy, not writable); the pump then pulls again.
* Writes go through :func:`start_send`: a write that completes without suspending (the socket
  is writable — the common case) costs no task and no timer. Only a write that suspends is
  finished in a task, and only then a watchdog timer is armed at the protocol's deadline:
  slow-consumer and heartbeat decisions are the protocol's (:meth:`ServerConnection.tick`, one
  injected clock), never a second timeout here.
* Every :class:`Close` the protocol returns (bad client frame, heartbeat timeout, slow
  consumer, a gap in the log -> ``resync``) ends the pump with :class:`Closed`; the transport
  closes the way it knows.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from tk9.events import Entry
from tk9.protocol.connection import AckObserved, Close, Output, ServerConnection
from tk9.protocol.messages import EventFrame, EventsFrame

if TYPE_CHECKING:
    from tk9.server.broadcast import Broadcasts
    from tk9.server.context import AppContext

Data = str | bytes


class Port(Protocol):
    """What a transport offers the pump and the broadcaster."""

    kind: str
    """Encoding family: ports of one kind share the encoded text of a broadcast batch."""

    joins_frames: bool
    """Consecutive event frames may go out as one write (SSE: messages are not frames)."""

    def encode_events(self, events: Sequence[Entry]) -> Data:
        """Consecutive events as one write (one frame, or one chunk of SSE messages)."""
        ...

    def encode_control(self, frame: Output) -> Data | None:
        """A control frame (hello, reset, ping, pong, error); ``None``: not on this transport."""
        ...

    def send(self, data: Data) -> Coroutine[Any, Any, None]:
        """Write ``data``; completes without suspending when the transport can take it."""
        ...

    def write_now(self, data: Data) -> bool | None:
        """Write ``data`` at once if the transport takes it now (``True``), else nothing
        (``False``: not writable or closing); ``None``: no synchronous write here, use
        :meth:`send`. The broadcaster's path: no coroutine per viewer per batch."""
        ...


class Closed(Exception):
    """The protocol decided to close the connection (see ``close``)."""

    def __init__(self, close: Close) -> None:
        super().__init__(close.reason)
        self.close = close


def start_send(coro: Coroutine[Any, Any, None]) -> asyncio.Future[None] | None:
    """Run a write until it completes or first suspends.

    ``None``: it completed (no task, no timer). Otherwise a future that finishes the write;
    errors a write raises synchronously propagate. This is how one broadcaster writes one
    batch to thousands of sockets in one pass without a task per socket per event.
    """
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    except BaseException:
        coro.close()
        raise
    return asyncio.ensure_future(_finish(coro, yielded))


async def _finish(coro: Coroutine[Any, Any, None], yielded: Any) -> None:
    """Continue a suspended coroutine the way a task would (it awaited ``yielded``)."""
    try:
        while True:
            if yielded is None:
                await asyncio.sleep(0)
            else:
                yielded._asyncio_future_blocking = False
                await asyncio.wait([yielded])
            try:
                yielded = coro.send(None)
            except StopIteration:
                return
    finally:
        coro.close()


class Viewer:
    """One subscribed connection: its protocol state, its port and its pump."""

    __slots__ = (
        "__weakref__",
        "broadcasts",
        "busy",
        "busy_count",
        "closing",
        "conn",
        "ctx",
        "delivered",
        "page",
        "port",
        "send_lock",
        "wake",
    )

    page_hold = 0.5
    """Seconds a replay page is kept while a write is pending (0: dropped at once)."""

    def __init__(self, ctx: AppContext, conn: ServerConnection, port: Port, transport: str) -> None:
        self.ctx = ctx
        self.conn = conn
        self.port = port
        self.broadcasts: Broadcasts = ctx.broadcasts
        self.wake = asyncio.Event()
        self.busy: asyncio.Future[None] | None = None
        """A broadcast write that suspended; the pump settles it before anything else."""
        self.busy_count = 0
        self.closing: Close | None = None
        self.send_lock = asyncio.Lock()
        self.page: list[Entry] | None = None
        """The log page :meth:`replay` is feeding (cleared if a write stays pending longer
        than :attr:`page_hold`)."""
        self.delivered = ctx.metrics.delivered.labels(transport=transport)

    @property
    def session_id(self) -> str:
        return self.conn.session_id

    # --- writing ----------------------------------------------------------------------------

    async def send_outputs(self, outputs: list[Output]) -> int:
        """Write outputs in order; returns how many events went out. Raises :class:`Closed`."""
        if len(outputs) == 1 and type(outputs[0]) is AckObserved:  # most client frames
            self.observe(outputs[0])
            return 0
        events = 0
        port = self.port
        run: list[Entry] = []  # consecutive events a port that joins frames writes at once
        async with self.send_lock:
            for out in outputs:
                if isinstance(out, Close):
                    raise Closed(out)
                if isinstance(out, AckObserved):
                    self.observe(out)
                    continue
                batch: Sequence[Entry] | None = None
                if isinstance(out, EventFrame):
                    batch = [out.event]
                elif isinstance(out, EventsFrame):
                    batch = out.events
                if batch is not None:
                    events += len(batch)
                    if port.joins_frames:
                        run.extend(batch)
                        continue
                    data: Data | None = port.encode_events(batch)
                else:
                    if run:
                        await self._write(port.encode_events(run))
                        run = []
                    data = port.encode_control(out)
                if data is not None:
                    await self._write(data)
            if run:
                await self._write(port.encode_events(run))
        if events:
            self.conn.sent(events, self.ctx.clock.monotonic())
            self.delivered.inc(events)
        return events

    def observe(self, ack: AckObserved) -> None:
        """An ack arrived: its lag (send -> ack) goes to the delivery-lag metric."""
        if ack.lag is not None:
            self.ctx.metrics.delivery_lag.observe(ack.lag)

    async def _write(self, data: Data) -> None:
        fut = start_send(self.port.send(data))
        if fut is not None:
            await self.settle(fut, self.page)

    async def settle(self, fut: asyncio.Future[None], page: list[Entry] | None = None) -> None:
        """Wait for a suspended write, with the protocol's watchdog armed meanwhile.

        ``page`` (the rest of a replay page) is kept while the socket drains, but dropped if
        the write is still pending after :attr:`page_hold` seconds (see :meth:`replay`).
        """
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None
        drop: asyncio.TimerHandle | None = None
        if page:
            if self.page_hold <= 0:
                page.clear()
            else:
                drop = loop.call_later(self.page_hold, page.clear)

        def watchdog() -> None:
            nonlocal handle
            outs = self.conn.tick(self.ctx.clock.monotonic())
            close = next((o for o in outs if isinstance(o, Close)), None)
            if close is not None:
                self.closing = close
                fut.cancel()
            else:
                handle = self._arm(loop, watchdog)

        handle = self._arm(loop, watchdog)
        try:
            await fut
        except asyncio.CancelledError:
            if self.closing is not None:
                raise Closed(self.closing) from None
            raise
        finally:
            if handle is not None:
                handle.cancel()
            if drop is not None:
                drop.cancel()

    def _arm(self, loop: asyncio.AbstractEventLoop, callback: Any) -> asyncio.TimerHandle | None:
        deadline = self.conn.next_deadline()
        if deadline is None:
            return None
        delay = max(0.0, deadline - self.ctx.clock.monotonic())
        return loop.call_at(loop.time() + delay, callback)

    # --- the pump ---------------------------------------------------------------------------

    async def pump(self) -> None:
        """Pull until caught up, then park in the broadcast set until woken; repeat."""
        conn, ctx, clock = self.conn, self.ctx, self.ctx.clock
        sid, batch = conn.session_id, ctx.settings.replay_batch
        loop = asyncio.get_running_loop()
        try:
            while True:
                if self.busy is not None:
                    fut, count, self.busy = self.busy, self.busy_count, None
                    await self.settle(fut)
                    conn.sent(count, clock.monotonic())
                now = clock.monotonic()
                deadline = conn.next_deadline()
                if deadline is not None and now >= deadline:
                    await self.send_outputs(conn.tick(now))
                    continue
                if conn.closed is not None:
                    raise Closed(conn.closed)
                if conn.read_request():
                    # a list of our own: ``replay`` may clear it (never the log's)
                    page = list(await ctx.log.read_entries(sid, conn.cursor, batch))
                    if page and await self.replay(page):
                        continue
                self.wake.clear()
                joined = self.broadcasts.join(self)
                if joined is False:
                    continue  # the broadcaster already passed our cursor: pull again
                if joined is None:  # nobody broadcasts this session: wait on the log
                    if deadline is None:
                        return
                    wait = max(0.0, deadline - clock.monotonic())
                    await ctx.log.wait(sid, conn.cursor, wait)
                    continue
                handle = None
                if deadline is not None:
                    delay = max(0.0, deadline - clock.monotonic())
                    handle = loop.call_at(loop.time() + delay, self.wake.set)
                try:
                    await self.wake.wait()
                finally:
                    self.broadcasts.leave(self)
                    if handle is not None:
                        handle.cancel()
        finally:
            if self.busy is not None:
                self.busy.cancel()

    async def replay(self, page: list[Entry]) -> bool:
        """Feed one page read from the log, as much at a time as the protocol allows.

        The page is read in one go (one query, one hand-off from the log's thread) but handed
        to the connection in slices of at most :meth:`ServerConnection.read_request` events,
        so the in-flight bound holds. When a write suspends (the socket is not writable: on a
        long catch-up that is every few frames, whenever the client is slower than the
        server), the rest of the page is kept while the socket drains — re-reading it would
        cost a query per socket buffer — but only for :attr:`page_hold` seconds: a viewer
        that stays stalled holds no more than its in-flight events, and the pump reads the
        rest again from the log once the socket drains.
        Returns whether anything new was sent (``False``: the page held only duplicates).
        """
        conn, clock = self.conn, self.ctx.clock
        step = max(1, self.ctx.protocol_config.max_batch_events)
        self.page = page
        sent = False
        try:
            start = 0
            while start < len(page):
                room = conn.read_request()
                if room <= 0:
                    break
                if room > step:
                    room -= room % step  # whole frames: no short frame in every slice
                outs = conn.feed(page[start : start + room], clock.monotonic())
                start += room
                if outs:
                    sent = True
                    await self.send_outputs(outs)
        finally:
            self.page = None
        return sent

    def push(self, first: int, last: int, data: Data, now: float) -> bool:
        """Broadcaster -> this viewer: write a shared batch if it is exactly what comes next.

        Returns ``False`` (and wakes the pump, which pulls) when the viewer is not in step:
        its cursor is elsewhere, a write of its own is in progress, or the write raised.
        """
        conn = self.conn
        if not conn.can_push(first) or self.busy is not None or self.send_lock.locked():
            self.wake.set()
            return False
        try:
            written = self.port.write_now(data)
            if written is not None:
                if not written:  # not writable now: the pump waits for it and pulls
                    self.wake.set()
                    return False
                conn.pushed(first, last, now)
                return True
            fut = start_send(self.port.send(data))
        except Exception:
            self.wake.set()  # the socket is gone; the reader/pump will see it
            return False
        conn.pushed(first, last, now, pending=fut is not None)
        if fut is not None:
            self.busy, self.busy_count = fut, last - first + 1
            self.wake.set()
            return False
        return True


async def run_until_first_ends(*coros: Coroutine[Any, Any, None]) -> BaseException | None:
    """Run coroutines as tasks until one ends; cancel the rest. Returns the first's exception."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
            task.add_done_callback(_consume)
        raise
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for task in pending:
        _consume(task)  # a cancelled task may still end with its own error: seen, not reported
    # Read every finished task's outcome (several can end together), so none is left
    # "never retrieved"; the first error in start order is the one reported.
    errors = [t.exception() for t in tasks if t in done and not t.cancelled()]
    return next((e for e in errors if e is not None), None)


def _consume(task: asyncio.Future[None]) -> None:
    """Mark a task's outcome as seen (it ended with its connection; nothing to report)."""
    if not task.cancelled():
        with contextlib.suppress(BaseException):
            task.exception()
