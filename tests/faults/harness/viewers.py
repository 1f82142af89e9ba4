"""A viewer = the project's Python client (:class:`tk9.client.SessionFollower`) plus a record
of everything it applied, folded with the same projection the server uses."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from tk9.client import Applied, Replaced, SessionFollower, Transport
from tk9.projection import apply
from tk9.protocol.follower import FollowerPolicy
from tk9.state import SessionState


@dataclass
class Viewer:
    """One follower and its record: applied seqs (with arrival times) and resets."""

    name: str
    base_url: str
    session_id: str
    transport: Transport = "ws"
    after: int = 0
    epoch: str | None = None
    seed: int = 0
    heartbeat: float = 1.0
    stop_when_finished: bool = True
    applied: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    resets: list[int] = field(default_factory=list)
    """``snapshot.seq`` of every reset, in order; ``segments`` restart after each."""
    segments: list[tuple[int, list[int]]] = field(default_factory=list)
    state: SessionState | None = None
    follower: SessionFollower | None = None
    error: BaseException | None = None
    transports_used: set[str] = field(default_factory=set)
    trace: list[tuple[float, str]] = field(default_factory=list)
    """What the client did and when (monotonic): opens, closes, backoffs."""
    _connections_before: int = 0

    async def run(self) -> None:
        rng = random.Random(self.seed)
        self.state = SessionState(session_id=self.session_id)
        self.segments = [(self.after, [])]
        self._connections_before = 0
        try:
            # a WebSocket upgrade refused by a proxy moves the client to SSE by itself
            await self._follow(rng, self.transport, self.after, self.epoch)
        except Exception as exc:
            self.error = exc

    async def _follow(
        self, rng: random.Random, transport: Transport, after: int, epoch: str | None
    ) -> None:
        policy = FollowerPolicy(
            heartbeat_interval=self.heartbeat, backoff_base=0.05, backoff_cap=0.5
        )
        self.follower = SessionFollower(
            self.base_url,
            self.session_id,
            transport,
            after=after,
            epoch=epoch,
            stop_when_finished=self.stop_when_finished,
            policy=policy,
            random=rng.random,
            trace=lambda what: self.trace.append((time.monotonic(), what)),
        )
        async with self.follower as follower:
            async for update in follower:
                self.transports_used.add(follower.transport)
                if isinstance(update, Replaced):
                    self.resets.append(update.snapshot.seq)
                    self.segments.append((update.snapshot.seq, []))
                    self.state = update.snapshot
                elif isinstance(update, Applied):
                    self.applied.append(update.event.seq)
                    self.times.append(time.monotonic())
                    self.segments[-1][1].append(update.event.seq)
                    self.state = apply(self.state, update.event)

    @property
    def resumes(self) -> int:
        total = self._connections_before + (self.follower.connections if self.follower else 1)
        return max(0, total - 1)

    @property
    def last_seq(self) -> int:
        if self.segments and self.segments[-1][1]:
            return self.segments[-1][1][-1]
        return self.segments[-1][0] if self.segments else 0

    def reached(self, seq: int) -> float | None:
        """When this viewer first applied ``seq`` or later (monotonic time)."""
        for s, t in zip(self.applied, self.times, strict=True):
            if s >= seq:
                return t
        return None


async def wait_for(predicate: object, *, timeout: float, what: str) -> None:
    """Wait (bounded) until ``predicate()`` is true."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
