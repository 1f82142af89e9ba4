"""Hedged opens: overlapping connection attempts, the first to open wins.

A connection attempt that gets *no answer* is usually a lost SYN (the link was dead when it
left, by the client or by a reverse proxy connecting upstream) that TCP will only retransmit
1 s, then 3 s later. :func:`hedged` starts a fresh attempt beside it after ``delay`` seconds,
up to ``limit`` in flight, and returns the first that opens; the others are cancelled, or
discarded if they opened too. An attempt that *fails* (refused, an HTTP error) starts nothing
new: when every started attempt has failed, the last error is raised and the caller's backoff
takes over, so a server that is down or refusing sees one attempt per backoff step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TypeVar

T = TypeVar("T")


async def hedged(
    start: Callable[[], Awaitable[T]],
    *,
    delay: float,
    limit: int,
    discard: Callable[[T], Awaitable[None]],
    first_delay: float | None = None,
    budget: float | None = None,
) -> T:
    """The first of staggered ``start()`` attempts to succeed (see the module docstring).

    A fresh attempt starts whenever the newest one has been silent for ``delay`` seconds
    (``first_delay`` for the first, e.g. a long poll's own wait) and fewer than ``limit`` are
    in flight; none starts after ``budget`` seconds. An attempt that fails does not start one
    (nor delay the next): when the last one in flight fails, its error is raised.
    """
    if delay <= 0 or limit < 1:
        raise ValueError("need delay > 0 and limit >= 1")
    loop = asyncio.get_running_loop()
    stop_at = None if budget is None else loop.time() + budget
    pending = {asyncio.ensure_future(start())}
    next_start = loop.time() + (delay if first_delay is None else first_delay)
    error: BaseException | None = None
    try:
        while True:
            now = loop.time()
            can_start = len(pending) < limit and (stop_at is None or now < stop_at)
            if can_start and now >= next_start:
                pending.add(asyncio.ensure_future(start()))  # silent: a fresh attempt beside it
                next_start = now + delay
                continue
            done, pending = await asyncio.wait(
                pending,
                timeout=next_start - now if can_start else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                continue
            winner: list[T] = []
            for task in done:
                exc = task.exception()
                if exc is not None:
                    error = exc
                elif not winner:
                    winner.append(task.result())
                else:
                    await discard(task.result())
            if winner:
                return winner[0]
            if not pending:
                assert error is not None
                raise error
    finally:
        for task in pending:
            task.cancel()
        for task in pending:
            with suppress(BaseException):
                await discard(await task)
