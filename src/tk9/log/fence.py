"""Fencing tokens for appends: a run's writer that lost its lease cannot write any more.

A queue worker executes a run under a lease (:mod:`tk9.jobs.lease`). Every time a lease is
taken, a per-run *generation* in a Redis hash goes up by one, and the taker gets that number
as its token. While the worker drives the run, every append and metadata update it makes
carries a :class:`Fence` (key, field, token); the Redis log checks, in the same Lua script
that appends, that the hash still holds that token, and refuses the write otherwise
(:class:`Fenced`, nothing written). A worker that was paused or cut off while another node
took the lapsed lease over and closed the run ``interrupted`` therefore cannot add its own
events or closing afterwards: the takeover bumped the generation before it read the run.

The fence travels in a :class:`~contextvars.ContextVar` (:func:`fenced`) rather than through
every call: the run's whole task tree (the emitter, the agents) inherits it, and code outside
the run (listings, viewers, the reaper) is unaffected. Only the Redis log checks it (queue
mode shares a Redis log); the memory and SQLite logs, which serve one process, ignore it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from tk9.errors import Conflict


@dataclass(frozen=True, slots=True)
class Fence:
    """Writes are allowed while Redis hash ``key`` holds ``token`` at ``field``."""

    key: str
    field: str
    token: int


class Fenced(Conflict):
    """A write refused because its fence token is stale: another node took the run over."""


_current: ContextVar[Fence | None] = ContextVar("tk9_fence", default=None)


def current() -> Fence | None:
    """The fence of the run this code executes for, if any."""
    return _current.get()


@contextlib.contextmanager
def fenced(fence: Fence) -> Iterator[None]:
    """Fence every log write in this context (and in tasks created inside it)."""
    reset = _current.set(fence)
    try:
        yield
    finally:
        _current.reset(reset)
