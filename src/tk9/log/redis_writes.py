"""How the Redis log's writes survive a Redis restart and carry a run's fence.

* :func:`ride_out` retries a write script while Redis is unreachable (a restart loading its
  AOF), for up to ``outage`` seconds. A connection cut mid-call may or may not have run the
  script, so before an append is sent again :func:`find_landed` looks for its exact entry
  (type, the appender's timestamp, payload) among the newest :data:`LANDED_WINDOW`: an entry
  is never written twice. Metadata writes are ``HSET`` and need no such check.
* :func:`fence_args` adds the current :class:`~tk9.log.fence.Fence` (if any) to a script's
  keys and arguments; the scripts refuse a stale token (:func:`fenced_out`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tk9.errors import Unavailable
from tk9.log.fence import Fenced, current

LANDED_WINDOW = 64
"""Newest entries searched for an append whose reply was lost (one writer per run, fenced,
so its own entry is the newest or close to it)."""


async def ride_out(
    call: Callable[[], Awaitable[Any]],
    landed: Callable[[], Awaitable[Any]] | None,
    outage: float,
    closed: Callable[[], bool],
) -> Any:
    """``call()``, retried with back-off on ``Unavailable`` for up to ``outage`` seconds of
    waiting; before each retry, ``landed()`` (if given) returns the reply of a lost call that
    did run. Stops at once when ``closed()`` (the log is closing)."""
    waited, delay, retrying = 0.0, 0.05, False
    while True:
        try:
            if retrying and landed is not None:
                found = await landed()
                if found is not None:
                    return found
            return await call()
        except Unavailable:
            if closed() or waited >= outage:
                raise
            retrying = True
            await asyncio.sleep(delay)  # back-off while Redis restarts
            waited, delay = waited + delay, min(delay * 2, 1.0)


def find_landed(
    epoch: str | None, entries: list[tuple[str, dict[str, str]]], fields: dict[str, str]
) -> list[Any] | None:
    """``[seq, epoch]`` (the append script's reply) of the entry holding ``fields`` (type,
    timestamp, payload; the stored wire text, which holds the seq, is not compared)."""
    for entry_id, found in entries:
        if all(found.get(key) == value for key, value in fields.items()):
            return [int(str(entry_id).split("-", 1)[0]), epoch]
    return None


def fence_args(keys: list[str], session_id: str) -> tuple[list[str], list[str]]:
    """The script's keys and its first two ARGV: the current fence's, or empty ones."""
    fence = current()
    if fence is None:
        return keys, ["", ""]
    return [*keys, fence.key], [fence.field, str(fence.token)]


def fenced_out(session_id: str) -> Fenced:
    return Fenced(
        f"session {session_id!r}: this writer's lease was taken over; write refused",
        session_id=session_id,
    )
