"""Blocking readers of Redis session streams, shared by one process's waiters.

:meth:`tk9.log.redis.RedisEventLog.wait` first checks ``last_seq``; when nothing newer exists it
waits here. Per (process, session) one **watcher** task does ``XREAD BLOCK 0`` from the newest
seq it has seen, on a connection of its own from a bounded pool, and fans wake-ups out to every
local waiter through a :class:`~tk9.log.notify.SessionNotifier`: no polling, the watcher sleeps
in Redis until an entry arrives. A watcher lingers ``linger`` seconds after its last waiter
leaves (live viewers call ``wait`` back to back) and is then cancelled. A tombstone entry
``{seq}-1`` (written by ``delete``) marks the session deleted, so waiters in every process raise
``SessionNotFound``; a failed blocking read makes them raise ``Unavailable``.

Deaf connections. A connection can stop carrying replies without closing (a proxy or NAT that
drops it silently, a failover): a reader blocked forever on it would leave its waiters asleep
while entries arrive. So a read blocks at most ``block`` seconds (an empty reply then proves
the connection alive, like a canary), and the blocking connections' socket timeout is
``block + grace``: a reply later than that means the connection went deaf. The reader then
drops it and reads again, from the seq it had seen, on a fresh connection (nothing is missed:
``XREAD`` resumes from that id); only a second failure in a row is reported as
``Unavailable``. A deaf reader is thus healed within ``block + grace`` seconds (10 s by
default).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tk9.errors import SessionNotFound, Unavailable
from tk9.log.notify import SessionNotifier


@dataclass(eq=False)
class _Watcher:
    """One blocking reader of one session's stream."""

    key: str
    seen: int
    waiters: int = 0
    deleted: bool = False
    error: Exception | None = None
    task: asyncio.Task[None] | None = None
    linger: asyncio.TimerHandle | None = None


class StreamWatchers:
    """The watchers of one process (see the module docstring)."""

    def __init__(self, notifier: SessionNotifier, *, linger: float, block: float) -> None:
        self._notifier = notifier
        self._linger = linger
        self._block_ms = max(1, round(block * 1000))
        self.healed = 0
        """Reads that went deaf and were retried on a fresh connection."""
        self._blocking: aioredis.Redis | None = None
        self._watchers: dict[str, _Watcher] = {}

    def __len__(self) -> int:
        return len(self._watchers)

    def start(self, blocking: aioredis.Redis) -> None:
        """Use ``blocking`` (a client on a bounded pool of its own) for the blocking reads."""
        self._blocking = blocking

    async def stop(self) -> None:
        """Cancel every watcher and close the blocking connections."""
        watchers, self._watchers = self._watchers, {}
        tasks = [w.task for w in watchers.values() if w.task is not None]
        for w in watchers.values():
            if w.linger is not None:
                w.linger.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        blocking, self._blocking = self._blocking, None
        if blocking is not None:
            await blocking.aclose()
            await blocking.connection_pool.disconnect()

    async def wait(
        self, session_id: str, events_key: str, last: int, after: int, timeout: float
    ) -> bool:
        """Wait until the session holds an entry past ``after`` (``last`` is its ``last_seq``
        as just read); ``False`` after ``timeout`` s or when the notifier closes."""
        watcher = self._watch(session_id, events_key, last)
        watcher.waiters += 1
        if watcher.linger is not None:
            watcher.linger.cancel()
            watcher.linger = None

        def has_more() -> bool:
            if watcher.error is not None:
                raise watcher.error
            if watcher.deleted:
                raise SessionNotFound(f"no session {session_id!r}", session_id=session_id)
            return watcher.seen > after

        try:
            return await self._notifier.wait_until(session_id, has_more, timeout)
        finally:
            watcher.waiters -= 1
            if watcher.waiters == 0 and self._watchers.get(session_id) is watcher:
                loop = asyncio.get_running_loop()
                watcher.linger = loop.call_later(self._linger, self._unwatch, session_id, watcher)

    def _watch(self, session_id: str, events_key: str, last: int) -> _Watcher:
        watcher = self._watchers.get(session_id)
        if watcher is None:
            watcher = _Watcher(key=events_key, seen=last)
            self._watchers[session_id] = watcher
            watcher.task = asyncio.create_task(self._follow(session_id, watcher))
        watcher.seen = max(watcher.seen, last)
        return watcher

    def _unwatch(self, session_id: str, watcher: _Watcher) -> None:
        if watcher.waiters == 0 and self._watchers.get(session_id) is watcher:
            del self._watchers[session_id]
            if watcher.task is not None:
                watcher.task.cancel()

    async def _follow(self, session_id: str, watcher: _Watcher) -> None:
        """The watcher task: block in Redis for new entries, wake local waiters."""
        assert self._blocking is not None
        deaf = False
        try:
            while not watcher.deleted:
                try:
                    reply: Any = await self._blocking.xread(
                        {watcher.key: f"{watcher.seen}-0"}, count=1000, block=self._block_ms
                    )
                except RedisTimeoutError:
                    if deaf:  # a fresh connection is deaf too: Redis itself is not answering
                        raise
                    deaf = True  # redis-py dropped that connection; read again on a new one
                    self.healed += 1
                    continue
                deaf = False
                if not reply:
                    continue  # the block ran out: the connection is alive, nothing new
                for _, entries in reply:
                    for entry_id, _fields in entries:
                        seq, _, sub = str(entry_id).partition("-")
                        if sub == "1":
                            watcher.deleted = True
                        else:
                            watcher.seen = max(watcher.seen, int(seq))
                self._notifier.notify(session_id)
        except (RedisError, OSError) as exc:
            watcher.error = Unavailable(f"the Redis blocking read failed: {exc}")
            self._notifier.notify(session_id)
        finally:
            if self._watchers.get(session_id) is watcher and (watcher.deleted or watcher.error):
                del self._watchers[session_id]
