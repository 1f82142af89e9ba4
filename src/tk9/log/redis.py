"""The scale-out backend: Redis Streams, shared by several server processes (F12).

Keys, per session (the ``{id}`` braces are a Redis hash tag, so one session's keys share a slot):

* ``{prefix}:s:{id}:info`` — hash: ``epoch``, ``created_at``, ``first_seq``, ``last_seq``,
  ``ord`` (creation order) and, while a delete is in progress, ``deleted``;
* ``{prefix}:s:{id}:meta`` — hash: one field per top-level meta key, its value as JSON, so
  ``update_meta``'s merge is a plain ``HSET``;
* ``{prefix}:s:{id}:events`` — the stream; entry id ``{seq}-0`` *is* the seq, fields ``t``
  (event type), ``ts`` (timestamp), ``p`` (payload JSON) and ``j``, the event's wire text
  (``Event.to_json()``, built by the append script), which a replay sends as stored
  (:meth:`RedisEventLog.read_entries`). The payload is thus held twice (about 2× the memory of
  an entry), as in the SQLite log; entries written by an older tk9 have no ``j`` and are read
  the slow way.

Plus ``{prefix}:streams`` (sorted set by creation order, for listing) and ``{prefix}:streams:ord``.

Every write is one Lua script, so it is atomic: ``append`` does ``HINCRBY last_seq`` and
``XADD {seq}-0`` together, hence processes appending to one session never produce a duplicate or
out-of-order seq. (Scripts that also touch the listing keys span slots: Redis Cluster is not
supported, a single Redis or a replicated primary is.) Reads are a ``MULTI`` of the info hash and
``XRANGE``, so they see a consistent snapshot.

Waiting. ``wait`` first checks ``last_seq``; if nothing newer exists, it waits on this
process's blocking reader of that stream (:mod:`tk9.log.redis_watch`), at most ``max_watchers``
connections; a read blocks at most ``watch_block`` s, and one not answered within
``watch_block + watch_grace`` s is retried on a fresh connection (a deaf connection is healed
within 10 s by default). ``delete`` first marks the stream deleted and appends a tombstone entry
``{last_seq}-1`` — that wakes blocked readers in every process, which then raise
``SessionNotFound`` — and then removes the keys, except that the tombstone stays for
``TOMBSTONE_TTL`` seconds for a waiter that checked the session just before the delete.

Fencing (:mod:`tk9.log.fence`): inside :func:`~tk9.log.fence.fenced`, ``append`` and
``update_meta`` pass the fence hash as a third key and check its token in the same script;
a stale token raises ``Fenced`` and writes nothing.

Redis restarts. Writes ride out an outage of up to ``outage`` seconds (10 s: less than the
15 s lease, so a run survives a Redis restart): :mod:`tk9.log.redis_writes` retries with
back-off, and before sending an append again checks whether the lost call had landed, so an
entry is never written twice. Redis must run with the AOF (``appendfsync always``) for an
acknowledged append to survive the restart; reads and waits raise ``Unavailable`` meanwhile
(viewers retry).

``trim`` is supported (``XTRIM MINID``). Timestamps come from the appending process's clock.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from itertools import repeat
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tk9.clock import Clock, SystemClock
from tk9.errors import Conflict, SessionNotFound, Unavailable
from tk9.events import Entry, Event, EventType, new_stored_entry
from tk9.log.base import (
    EventLog,
    StreamInfo,
    check_before_seq,
    check_cursor,
    check_event_type,
    check_session_id,
    check_timeout,
    encode_json,
)
from tk9.log.memory import new_epoch
from tk9.log.notify import SessionNotifier
from tk9.log.redis_scripts import (
    APPEND,
    CREATE,
    MARK_DELETED,
    PURGE,
    TOMBSTONE_TTL,
    TRIM,
    UPDATE_META,
)
from tk9.log.redis_watch import StreamWatchers
from tk9.log.redis_writes import LANDED_WINDOW, fence_args, fenced_out, find_landed, ride_out


class RedisEventLog(EventLog):
    """Redis Streams event log (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "tk9",
        clock: Clock | None = None,
        max_watchers: int = 512,
        watcher_linger: float = 5.0,
        watch_block: float = 5.0,
        watch_grace: float = 5.0,
        outage: float = 10.0,
    ) -> None:
        if max_watchers < 1:
            raise ValueError("max_watchers must be >= 1")
        if watch_block <= 0 or watch_grace <= 0:
            raise ValueError("watch_block and watch_grace must be > 0")
        self._url = url
        self._prefix = prefix
        self._clock: Clock = clock or SystemClock()
        self._max_watchers = max_watchers
        self._outage = outage
        self._r: aioredis.Redis | None = None
        self._texts: aioredis.Redis | None = None
        self._notifier = SessionNotifier()
        self._watchers = StreamWatchers(self._notifier, linger=watcher_linger, block=watch_block)
        self._watch_timeout = watch_block + watch_grace

    # --- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self._r is not None:
            return
        r = aioredis.Redis.from_url(self._url, decode_responses=True)
        pool = aioredis.BlockingConnectionPool.from_url(
            self._url,
            decode_responses=True,
            max_connections=self._max_watchers,
            timeout=None,
            socket_timeout=self._watch_timeout,  # a blocking read answered later is deaf
        )
        blocking = aioredis.Redis(connection_pool=pool)
        try:
            async with _errors():
                await r.ping()
        except BaseException:
            await r.aclose()
            await blocking.aclose()
            raise
        # the same connections, but XRANGE replies are left as Redis sends them (no dict per
        # entry): what read_entries picks the stored texts out of
        texts = aioredis.Redis(connection_pool=r.connection_pool)
        texts.set_response_callback("XRANGE", _unparsed)
        self._r, self._texts = r, texts
        self._watchers.start(blocking)
        self._scripts = {
            name: r.register_script(src)
            for name, src in [
                ("create", CREATE),
                ("append", APPEND),
                ("update_meta", UPDATE_META),
                ("mark_deleted", MARK_DELETED),
                ("purge", PURGE),
                ("trim", TRIM),
            ]
        }
        self._notifier.reopen()

    async def close(self) -> None:
        self._notifier.close()
        await self._watchers.stop()
        r = self._r
        self._r = self._texts = None
        if r is not None:
            await r.aclose()

    def healed_watchers(self) -> int:
        """Blocking reads that went deaf and were retried on a fresh connection."""
        return self._watchers.healed

    def watched_sessions(self) -> int:
        """Sessions this process currently holds a blocking reader for (bounded by
        ``max_watchers`` connections)."""
        return len(self._watchers)

    def _client(self) -> aioredis.Redis:
        if self._r is None:
            raise Unavailable("the Redis event log is not open")
        return self._r

    def _keys(self, session_id: str) -> tuple[str, str, str]:
        check_session_id(session_id)
        base = f"{self._prefix}:s:{{{session_id}}}"
        return f"{base}:info", f"{base}:meta", f"{base}:events"

    @property
    def _index(self) -> str:
        return f"{self._prefix}:streams"

    async def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        self._client()
        async with _errors():
            return await self._scripts[name](keys=keys, args=args)

    async def _write(
        self,
        name: str,
        keys: list[str],
        args: list[Any],
        landed: Callable[[], Awaitable[Any]] | None = None,
    ) -> Any:
        """Run a write script, riding out a Redis outage (see :func:`ride_out`)."""
        closed = lambda: self._notifier.closed  # noqa: E731
        return await ride_out(lambda: self._run(name, keys, args), landed, self._outage, closed)

    async def _landed(self, session_id: str, fields: dict[str, str]) -> list[Any] | None:
        """``[seq, epoch]`` of an append whose reply was lost, if it did land."""
        info_k, _, events_k = self._keys(session_id)
        async with _errors(), self._client().pipeline(transaction=True) as pipe:
            pipe.hget(info_k, "epoch")
            pipe.xrevrange(events_k, "+", "-", count=LANDED_WINDOW)
            epoch, entries = await pipe.execute()
        return find_landed(epoch, entries, fields)

    # --- streams -----------------------------------------------------------------------------
    async def create(self, session_id: str, meta: dict[str, Any]) -> StreamInfo:
        info_k, meta_k, events_k = self._keys(session_id)
        fields = _meta_fields(meta)
        epoch, created = new_epoch(), self._clock.wall()
        ok = await self._run(
            "create",
            [info_k, meta_k, events_k, self._index, f"{self._index}:ord"],
            [session_id, epoch, repr(created), *fields],
        )
        if not ok:
            raise Conflict(f"session {session_id!r} already exists", session_id=session_id)
        return StreamInfo(session_id, epoch, 1, 0, created, json.loads(encode_json(meta, "meta")))

    async def info(self, session_id: str) -> StreamInfo:
        info_k, meta_k, _ = self._keys(session_id)
        async with _errors(), self._client().pipeline(transaction=True) as pipe:
            pipe.hgetall(info_k)
            pipe.hgetall(meta_k)
            raw, meta = await pipe.execute()
        found = _stream_info(session_id, raw, meta)
        if found is None:
            raise _not_found(session_id)
        return found

    async def list_streams(self) -> list[StreamInfo]:
        r = self._client()
        async with _errors():
            ids = [str(sid) for sid in await r.zrevrange(self._index, 0, -1)]
            async with r.pipeline(transaction=False) as pipe:
                for sid in ids:
                    info_k, meta_k, _ = self._keys(sid)
                    pipe.hgetall(info_k)
                    pipe.hgetall(meta_k)
                replies = await pipe.execute()
        out = []
        for i, sid in enumerate(ids):
            found = _stream_info(sid, replies[2 * i], replies[2 * i + 1])
            if found is not None:
                out.append(found)
        return out

    async def update_meta(self, session_id: str, meta: dict[str, Any]) -> None:
        info_k, meta_k, _ = self._keys(session_id)
        fields = _meta_fields(meta)
        keys, args = fence_args([info_k, meta_k], session_id)
        res = await self._write("update_meta", keys, [*args, *fields])
        if res == -1:
            raise fenced_out(session_id)
        if not res:
            raise _not_found(session_id)

    async def delete(self, session_id: str) -> None:
        info_k, meta_k, events_k = self._keys(session_id)
        epoch = await self._run("mark_deleted", [info_k, events_k, self._index], [session_id])
        if not epoch:
            raise _not_found(session_id)
        await self._run("purge", [info_k, meta_k, events_k], [epoch, TOMBSTONE_TTL])

    async def trim(self, session_id: str, before_seq: int) -> StreamInfo:
        info_k, _, events_k = self._keys(session_id)
        check_before_seq(before_seq)
        if await self._run("trim", [info_k, events_k], [before_seq]) is None:
            raise _not_found(session_id)
        return await self.info(session_id)

    # --- entries -----------------------------------------------------------------------------
    async def append(
        self, session_id: str, event_type: EventType, payload: dict[str, Any]
    ) -> Event:
        info_k, _, events_k = self._keys(session_id)
        kind = check_event_type(event_type)
        body = encode_json(payload)
        ts = self._clock.wall()
        keys, args = fence_args([info_k, events_k], session_id)
        fields = {"t": kind.value, "ts": repr(ts), "p": body}
        # the wire text after the epoch, as ``stored_event_json`` spells it (contract-tested)
        tail = f',"timestamp":{ts!r},"event_type":"{kind.value}","payload":{body}}}'
        res = await self._write(
            "append",
            keys,
            [*args, *fields.values(), tail],
            lambda: self._landed(session_id, fields),
        )
        if res == -1:
            raise fenced_out(session_id)
        if res is None:
            raise _not_found(session_id)
        return _event(int(res[0]), str(res[1]), ts, kind, body)

    async def read(self, session_id: str, after: int, limit: int = 1000) -> list[Event]:
        info_k, _, events_k = self._keys(session_id)
        check_cursor(after, limit)
        async with _errors(), self._client().pipeline(transaction=True) as pipe:
            pipe.hmget(info_k, ["epoch", "deleted"])
            pipe.xrange(events_k, f"{after + 1}-0", "+", count=limit)
            (epoch, deleted), entries = await pipe.execute()
        if epoch is None or deleted:
            raise _not_found(session_id)
        return [_entry(epoch, entry_id, fields) for entry_id, fields in entries]

    async def read_entries(self, session_id: str, after: int, limit: int = 1000) -> Sequence[Entry]:
        """:meth:`read` for a replay: :class:`StoredEntry` tuples of the stored wire text (field
        ``j``), taken from the XRANGE reply as Redis sends it — nothing parsed or formatted,
        no dict per entry. A page holding an entry without ``j`` (appended by an older tk9) is
        :meth:`read`. (Picking the texts out in a Lua script sends less, but costs Redis — the
        one process every server shares — about five times the CPU of a plain XRANGE.)"""
        info_k, _, events_k = self._keys(session_id)
        check_cursor(after, limit)
        self._client()
        assert self._texts is not None
        async with _errors(), self._texts.pipeline(transaction=True) as pipe:
            pipe.hmget(info_k, ["epoch", "deleted"])
            pipe.xrange(events_k, f"{after + 1}-0", "+", count=limit)
            (epoch, deleted), rows = await pipe.execute()
        if epoch is None or deleted:
            raise _not_found(session_id)
        if not rows:
            return []
        texts = [fields[7] for _, fields in rows if len(fields) == 8 and fields[6] == "j"]
        first = int(rows[0][0].partition("-")[0])
        if len(texts) < len(rows) or rows[-1][0] != f"{first + len(rows) - 1}-0":
            return await self.read(session_id, after, limit)  # older entries: the slow way
        seqs = range(first, first + len(texts))  # a live stream's ids are {seq}-0, gapless
        return list(map(new_stored_entry, zip(seqs, repeat(epoch), texts)))

    async def wait(self, session_id: str, after: int, timeout: float) -> bool:
        info_k, _, events_k = self._keys(session_id)
        check_cursor(after)
        check_timeout(timeout)
        if self._notifier.closed:
            return False
        try:
            async with _errors():
                last, deleted = await self._client().hmget(info_k, ["last_seq", "deleted"])  # type: ignore[misc]
        except Unavailable:
            if self._notifier.closed:  # closed while we asked: like any waiter woken by close
                return False
            raise
        if last is None or deleted:
            raise _not_found(session_id)
        if int(last) > after or timeout == 0:
            return int(last) > after
        return await self._watchers.wait(session_id, events_k, int(last), after, timeout)


@contextlib.asynccontextmanager
async def _errors() -> AsyncIterator[None]:
    """Map Redis connectivity failures to the retryable ``Unavailable``."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise Unavailable(f"event log (Redis) unavailable: {exc}") from None


def _meta_fields(meta: dict[str, Any]) -> list[str]:
    """``[key, json(value), ...]`` for an ``HSET`` of the meta hash (validates ``meta``)."""
    encode_json(meta, "meta")
    out: list[str] = []
    for key, value in meta.items():
        out += [str(key), json.dumps(value, ensure_ascii=False, separators=(",", ":"))]
    return out


def _stream_info(session_id: str, raw: dict[str, str], meta: dict[str, str]) -> StreamInfo | None:
    if not raw or "epoch" not in raw or raw.get("deleted"):
        return None
    return StreamInfo(
        session_id=session_id,
        epoch=raw["epoch"],
        first_seq=int(raw["first_seq"]),
        last_seq=int(raw["last_seq"]),
        created_at=float(raw["created_at"]),
        meta={k: json.loads(v) for k, v in meta.items()},
    )


def _unparsed(response: Any, **_options: Any) -> Any:
    return response


def _entry(epoch: str, entry_id: str, fields: dict[str, str]) -> Event:
    seq = int(entry_id.split("-", 1)[0])
    return _event(seq, epoch, float(fields["ts"]), fields["t"], fields["p"])


def _event(seq: int, epoch: str, ts: float, kind: EventType | str, body: str) -> Event:
    return Event.from_stored(seq, epoch, ts, EventType(kind), body)


def _not_found(session_id: str) -> SessionNotFound:
    return SessionNotFound(f"no session {session_id!r}", session_id=session_id)
