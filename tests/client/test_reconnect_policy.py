"""The fast-recovery policy of the client (issue 5): hedged opens and probing a silent
connection, next to the backoff that still protects a server that refuses or is down."""

from __future__ import annotations

import asyncio

import pytest

from tk9.client.hedge import hedged
from tk9.client.transports import upgrade_refused
from tk9.clock import FakeClock
from tk9.errors import CloseCode
from tk9.protocol.follower import Follower, FollowerPolicy, Reconnect, Resume
from tk9.protocol.messages import EventFrame, Hello, ServerPing

from .helpers import EPOCH, SESSION, log_event


def connected(
    policy: FollowerPolicy | None = None, interval: float = 1.0
) -> tuple[Follower, FakeClock]:
    clock = FakeClock()
    f = Follower(policy=policy, random=lambda: 0.5)
    f.on_connect(clock.monotonic())
    hello = Hello(
        session_id=SESSION,
        epoch=EPOCH,
        head=0,
        resume_from=0,
        heartbeat_interval=interval,
        heartbeat_timeout=1.5 * interval,
    )
    f.on_frame(hello, clock.monotonic())
    return f, clock


def test_hedge_delay_is_capped_by_the_heartbeat() -> None:
    f, _ = connected(FollowerPolicy(hedge_after=0.5), interval=0.2)
    assert f.hedge_delay == 0.2
    g, _ = connected(FollowerPolicy(hedge_after=0.5), interval=15.0)
    assert g.hedge_delay == 0.5


def test_a_connection_is_probed_once_a_heartbeat_is_late_and_closed_at_the_stale_bound() -> None:
    f, clock = connected(interval=1.0)
    assert f.probe_after == pytest.approx(1.5)
    assert f.stale_after == pytest.approx(2.5)
    clock.advance(1.4)
    assert not f.probe_due(clock.monotonic())
    clock.advance(0.1)
    assert f.probe_due(clock.monotonic())
    assert f.tick(clock.monotonic()) == []  # suspect, not dead: the connection stays
    clock.advance(1.0)
    assert Resume("stale") in f.tick(clock.monotonic())


def test_any_frame_or_keepalive_ends_the_suspicion() -> None:
    f, clock = connected(interval=1.0)
    clock.advance(1.6)
    assert f.probe_due(clock.monotonic())
    f.on_frame(ServerPing(ts=1.0), clock.monotonic())
    assert not f.probe_due(clock.monotonic())
    clock.advance(1.6)
    f.on_alive(clock.monotonic())  # an SSE keepalive
    assert not f.probe_due(clock.monotonic())
    f.on_frame(EventFrame(event=log_event(1)), clock.monotonic())
    assert f.silent_for(clock.monotonic()) == 0.0


def test_no_probe_without_an_open_connection() -> None:
    f, clock = connected()
    f.on_close(1006)
    clock.advance(100)
    assert not f.probe_due(clock.monotonic())
    assert f.silent_for(clock.monotonic()) is None
    f.on_alive(clock.monotonic())  # a late keepalive does not revive a closed connection
    assert f.silent_for(clock.monotonic()) is None


def test_refusals_still_back_off_exponentially_to_the_cap() -> None:
    """A server that is down or refusing sees the jittered exponential backoff, capped at 10 s."""
    f, _ = connected()
    delays = []
    for _ in range(10):
        decision = f.on_close(int(CloseCode.TRY_AGAIN_LATER))
        assert isinstance(decision, Reconnect)
        delays.append(decision.delay)
    assert delays == sorted(delays)
    assert delays[0] == pytest.approx(0.25 * 0.75)
    assert delays[-1] == pytest.approx(10.0 * 0.75)


def test_policy_rejects_bad_hedging() -> None:
    with pytest.raises(ValueError):
        FollowerPolicy(hedge_after=0)
    with pytest.raises(ValueError):
        FollowerPolicy(max_open_attempts=0)


# --- hedged opens (real event loop; waits are on conditions, bounded) -----------------------


class Attempts:
    """Open attempts whose outcome the test decides."""

    def __init__(self) -> None:
        self.futures: list[asyncio.Future[str]] = []
        self.discarded: list[str] = []
        self._changed = asyncio.Event()

    async def start(self) -> str:
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.futures.append(fut)
        self._changed.set()
        return await fut

    async def discard(self, value: str) -> None:
        self.discarded.append(value)

    async def started(self, n: int) -> None:
        async with asyncio.timeout(5):
            while len(self.futures) < n:
                self._changed.clear()
                await self._changed.wait()


async def test_a_silent_open_gets_a_fresh_attempt_and_the_first_to_open_wins() -> None:
    a = Attempts()
    task = asyncio.ensure_future(hedged(a.start, delay=0.01, limit=3, discard=a.discard))
    await a.started(2)
    a.futures[1].set_result("second")
    assert await task == "second"
    assert a.futures[0].cancelled()


async def test_no_more_than_limit_attempts_in_flight() -> None:
    a = Attempts()
    task = asyncio.ensure_future(hedged(a.start, delay=0.001, limit=2, discard=a.discard))
    await a.started(2)
    with pytest.raises(TimeoutError):  # 50 hedge delays pass without a third attempt
        await asyncio.wait_for(a.started(3), 0.05)
    assert len(a.futures) == 2
    a.futures[0].set_result("first")
    assert await task == "first"


async def test_a_failed_attempt_starts_nothing_and_its_error_is_raised() -> None:
    """A refusal (connection refused, HTTP error) is not hedged: the backoff handles it."""
    a = Attempts()
    task = asyncio.ensure_future(hedged(a.start, delay=60, limit=3, discard=a.discard))
    await a.started(1)
    a.futures[0].set_exception(ConnectionRefusedError("refused"))
    with pytest.raises(ConnectionRefusedError):
        await task
    assert len(a.futures) == 1


async def test_the_last_error_is_raised_when_every_attempt_fails() -> None:
    a = Attempts()
    task = asyncio.ensure_future(hedged(a.start, delay=0.001, limit=2, discard=a.discard))
    await a.started(2)
    a.futures[0].set_exception(OSError("one"))
    a.futures[1].set_exception(TimeoutError("two"))
    with pytest.raises((OSError, TimeoutError)):
        await task


async def test_hedged_rejects_bad_arguments() -> None:
    a = Attempts()
    with pytest.raises(ValueError):
        await hedged(a.start, delay=0, limit=1, discard=a.discard)


async def test_a_failure_does_not_delay_the_next_fresh_attempt() -> None:
    """Attempts failing one by one (a proxy's 504 after its connect timeout) do not reset the
    hedge rhythm: a fresh attempt still starts one delay after the previous start."""
    a = Attempts()
    task = asyncio.ensure_future(hedged(a.start, delay=0.02, limit=2, discard=a.discard))
    await a.started(2)
    a.futures[0].set_exception(OSError("504"))
    await a.started(3)  # a slot freed: the next one starts on the same rhythm
    a.futures[2].set_result("third")
    assert await task == "third"


@pytest.mark.parametrize(
    ("status", "refused"),
    [(200, True), (400, True), (403, True), (426, True), (429, False), (502, False), (504, False)],
)
def test_only_a_non_5xx_answer_to_the_upgrade_means_websocket_is_blocked(
    status: int, refused: bool
) -> None:
    assert upgrade_refused(status) is refused
