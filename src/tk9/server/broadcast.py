"""Push to caught-up viewers: one broadcaster per watched session.

A :class:`Broadcaster` is the only thing that follows a session's log for new entries. Where
the log hands over what it commits (:meth:`EventLog.listen`: the memory and SQLite logs), the
broadcaster fans each commit out right there, on the loop, with no wake-up and no read;
otherwise (the Redis log, or entries that do not follow on from what it sent) its task wakes
and reads what is new once (coalesced: every commit of one loop tick is one read). Either way
it encodes a batch once per transport kind and writes it straight to every *member* — a viewer
whose pump found nothing new to read and parked. A member whose cursor is not exactly at the
batch's start, that has a write of its own in progress, or whose socket does not take the write
at once, is woken instead and leaves the set: its pump catches up from the log (the log is the
only buffer; no queue per viewer) and joins again. The producer never waits for any of this,
and a stalled viewer costs the others one failed ``can_push`` check.

Sessions are watched while at least one viewer is attached (:meth:`Broadcasts.attach`); the
task ends with the last one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tk9.errors import SessionNotFound
from tk9.events import Event

if TYPE_CHECKING:
    from prometheus_client import Counter

    from tk9.server.context import AppContext
    from tk9.server.delivery import Data, Viewer

_WAIT = 3600.0
"""How long one wait on the log may last; the broadcaster just waits again."""


class Broadcaster:
    """Fan-out of one session's new entries to its caught-up viewers."""

    def __init__(self, ctx: AppContext, session_id: str, head: int) -> None:
        self.ctx = ctx
        self.session_id = session_id
        self.head = head
        """Last seq this broadcaster has fanned out (or started after)."""
        self.attached = 0
        self.members: set[Viewer] = set()
        self.batches = 0
        self.task: asyncio.Task[None] | None = None
        self.unlisten: Callable[[], None] | None = None
        self.gathered: list[Event] | None = None
        """Commits of the current tick after the first (see :meth:`on_commit`)."""
        self.behind = asyncio.Event()
        """Set when the log has entries :meth:`on_commit` could not fan out (listener mode)."""
        self.behind.set()
        self.done = False

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())
        self.unlisten = self.ctx.log.listen(self.session_id, self.on_commit)

    def on_commit(self, events: Sequence[Event] | None) -> None:
        """The log committed ``events`` (``None``: unknown).

        The first commit of a loop tick is fanned out at once; later ones in the same tick (a
        batch appended entry by entry, concurrent producers) are gathered and fanned out as
        one frame at the end of the tick. Entries that do not follow on wake the task to read.
        """
        if self.done:
            return
        if not events:
            self.behind.set()
        elif self.gathered is not None:
            self.gathered.extend(events)
        elif events[0].seq == self.head + 1:
            self.fan_out(events)
            self.gathered = []
            asyncio.get_running_loop().call_soon(self.flush)
        else:
            self.behind.set()

    def flush(self) -> None:
        """End of the tick: fan out what :meth:`on_commit` gathered."""
        gathered, self.gathered = self.gathered, None
        if not gathered or self.done or gathered[-1].seq <= self.head:
            return
        if gathered[0].seq <= self.head + 1:
            self.fan_out(gathered)  # (which checks they are contiguous)
        else:
            self.behind.set()

    async def run(self) -> None:
        log, sid = self.ctx.log, self.session_id
        limit = max(1, self.ctx.protocol_config.max_batch_events)
        loop = asyncio.get_running_loop()
        try:
            while True:
                if self.unlisten is not None:
                    # commits come through on_commit; read only what it could not fan out
                    # (and once at the start: what committed before the listener was set)
                    await self.behind.wait()
                    self.behind.clear()
                else:
                    started = loop.time()
                    if not await log.wait(sid, self.head, _WAIT):
                        if loop.time() - started < _WAIT / 2:
                            return  # the log closed (shutdown): viewers wait on it themselves
                        continue
                events = await log.read(sid, self.head, limit)
                if events:
                    self.fan_out(events)
        except SessionNotFound:
            pass
        finally:
            self.done = True
            self.stop_listening()
            self.kick_all()

    def stop_listening(self) -> None:
        if self.unlisten is not None:
            self.unlisten()
            self.unlisten = None

    def fan_out(self, events: Sequence[Event]) -> None:
        """Write one batch to every member that is exactly at its start; wake the others."""
        if events[0].seq <= self.head:  # partly fanned out already (by :meth:`on_commit`)
            events = [e for e in events if e.seq > self.head]
            if not events:
                return
        first, last = events[0].seq, events[-1].seq
        self.head = last
        self.batches += 1
        if not self.members:
            return
        if last - first + 1 != len(events):
            self.kick_all()  # not contiguous: let each pump read it and decide (resync)
            return
        now = self.ctx.clock.monotonic()
        texts: dict[str, Data] = {}
        pushed: dict[Counter, int] = {}  # each transport's delivered counter -> viewers
        for viewer in list(self.members):
            if viewer.conn.cursor >= last:
                continue
            kind = viewer.port.kind
            data = texts.get(kind)
            if data is None:
                data = texts[kind] = viewer.port.encode_events(events)
            if viewer.push(first, last, data, now):
                pushed[viewer.delivered] = pushed.get(viewer.delivered, 0) + 1
            else:
                self.members.discard(viewer)
        count = last - first + 1
        for delivered, viewers in pushed.items():
            delivered.inc(viewers * count)

    def kick_all(self) -> None:
        members, self.members = self.members, set()
        for viewer in members:
            viewer.wake.set()


class Broadcasts:
    """The broadcasters of one app, keyed by session id."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.by_session: dict[str, Broadcaster] = {}

    def attach(self, session_id: str, head: int) -> None:
        """A viewer of ``session_id`` started; ``head`` is the log's last seq it saw."""
        b = self.by_session.get(session_id)
        if b is None:
            b = self.by_session[session_id] = Broadcaster(self.ctx, session_id, head)
            b.start()
        b.attached += 1

    def detach(self, session_id: str) -> None:
        b = self.by_session.get(session_id)
        if b is None:
            return
        b.attached -= 1
        if b.attached <= 0:
            del self.by_session[session_id]
            b.stop_listening()
            b.kick_all()
            if b.task is not None:
                b.task.cancel()
                b.task.add_done_callback(_consume)

    def join(self, viewer: Viewer) -> bool | None:
        """Park ``viewer`` in its session's broadcast set.

        ``True``: joined (wait to be woken). ``False``: the broadcaster already passed the
        viewer's cursor — pull again first. ``None``: no live broadcaster (the session was
        deleted or the log closed): the caller waits on the log itself.
        """
        b = self.by_session.get(viewer.session_id)
        if b is None or b.done:
            return None
        if viewer.conn.cursor < b.head:
            return False
        b.members.add(viewer)
        return True

    def leave(self, viewer: Viewer) -> None:
        b = self.by_session.get(viewer.session_id)
        if b is not None:
            b.members.discard(viewer)

    async def close(self) -> None:
        """Stop every broadcaster (server shutdown)."""
        tasks = [b.task for b in self.by_session.values() if b.task is not None]
        for b in self.by_session.values():
            b.stop_listening()
            b.kick_all()
        self.by_session.clear()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*tasks, return_exceptions=True)


def _consume(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        with contextlib.suppress(BaseException):
            task.exception()
