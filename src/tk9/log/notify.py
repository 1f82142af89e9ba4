"""In-process, per-session wake-ups for :meth:`EventLog.wait` — no polling.

A :class:`SessionNotifier` keeps one :class:`asyncio.Event` per session *that has waiters*.
``notify(session_id)`` sets that event and forgets it, so every coroutine waiting on it wakes and
the next waiter gets a fresh one. A waiter always re-checks its condition after taking the event
and before sleeping; with one event loop there is no ``await`` between the check and the sleep,
so an append cannot slip in between unnoticed (no lost wake-up). Sessions without waiters cost
nothing.

Semantics of :meth:`SessionNotifier.wait_until` (used by the memory and SQLite backends, and by
the Redis backend to fan one blocking read out to many local waiters):

* it returns ``True`` at once if the condition already holds;
* after :meth:`close` it returns ``False`` (and every waiter is woken to see that);
* the condition may raise — backends make it raise ``SessionNotFound`` once the session is
  deleted, and call :meth:`notify` on delete, so a waiter on a deleted session raises
  ``SessionNotFound`` promptly;
* otherwise it returns ``False`` once ``timeout`` seconds (event-loop time) have passed.

A backend that knows the events it just committed passes them to :meth:`SessionNotifier.notify`;
*listeners* (:meth:`SessionNotifier.listen`, one per session at most: the server's broadcaster)
get them there, synchronously, before any waiter runs — so live fan-out costs no wake-up and no
read. A notify without events (a delete, another process's entries, the Redis log) gives the
listener ``None``: it reads from the log instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from tk9.errors import SessionNotFound
from tk9.events import Event

Listener = Callable[[Sequence[Event] | None], None]
"""Called on every notify of its session with the events just committed, or ``None``."""


class _Slot:
    """One session's current wake-up event and how many coroutines wait on it."""

    __slots__ = ("event", "waiters")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.waiters = 0


class SessionNotifier:
    """Wake-ups keyed by session id. Use from one event loop only."""

    def __init__(self) -> None:
        self._slots: dict[str, _Slot] = {}
        self._listeners: dict[str, Listener] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def reopen(self) -> None:
        """Allow waiting again after :meth:`close` (a backend that is opened a second time)."""
        self._closed = False

    def notify(self, session_id: str, events: Sequence[Event] | None = None) -> None:
        """Give ``session_id``'s listener the new ``events`` (``None``: unknown, read them)
        and wake every coroutine waiting on it (they re-check their condition)."""
        listener = self._listeners.get(session_id)
        if listener is not None:
            try:
                listener(events)
            except Exception:  # a listener must not fail the append that committed
                logging.getLogger(__name__).exception("listener of %s failed", session_id)
        slot = self._slots.pop(session_id, None)
        if slot is not None:
            slot.event.set()

    def listen(self, session_id: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every notify of ``session_id`` until the returned function is
        called. One listener per session: a second one replaces the first."""
        self._listeners[session_id] = listener

        def stop() -> None:
            if self._listeners.get(session_id) is listener:
                del self._listeners[session_id]

        return stop

    def close(self) -> None:
        """Wake every waiter of every session; from now on ``wait_until`` returns ``False``."""
        self._closed = True
        slots, self._slots = self._slots, {}
        for slot in slots.values():
            slot.event.set()

    def waiting_sessions(self) -> int:
        """Sessions that currently have at least one waiter (for tests and metrics)."""
        return len(self._slots)

    async def wait_until(
        self, session_id: str, condition: Callable[[], bool], timeout: float
    ) -> bool:
        """Sleep until ``condition()`` holds (True), the notifier closes or time runs out (False).

        ``condition`` is evaluated on entry and after every wake-up; exceptions it raises
        propagate (that is how a deleted session surfaces).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._closed:
                return False
            if condition():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            slot = self._slots.get(session_id)
            if slot is None:
                slot = self._slots[session_id] = _Slot()
            slot.waiters += 1
            try:
                async with asyncio.timeout(remaining):
                    await slot.event.wait()
            except TimeoutError:
                return False if self._closed else condition()
            finally:
                slot.waiters -= 1
                # The last waiter to leave a slot nobody notified drops it: idle sessions cost
                # nothing, however many waits timed out on them.
                if slot.waiters == 0 and self._slots.get(session_id) is slot:
                    del self._slots[session_id]

    async def wait_past(
        self,
        session_id: str,
        after: int,
        timeout: float,
        position: Callable[[], tuple[str, int]],
    ) -> bool:
        """``EventLog.wait`` for backends that know their streams in memory.

        ``position()`` gives the stream's ``(epoch, last_seq)`` and raises ``SessionNotFound``
        for an unknown session; a stream deleted and created anew while we sleep (another
        epoch) raises ``SessionNotFound`` too, since seqs of two epochs are not comparable.
        """
        epoch, _ = position()

        def has_more() -> bool:
            current_epoch, last_seq = position()
            if current_epoch != epoch:
                raise SessionNotFound(f"no session {session_id!r}", session_id=session_id)
            return last_seq > after

        return await self.wait_until(session_id, has_more, timeout)
