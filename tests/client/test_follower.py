"""The pure client-side protocol state (``tk9.protocol.follower``), driven with a fake clock."""

from __future__ import annotations

import pytest

from tk9.clock import FakeClock
from tk9.errors import CloseCode
from tk9.protocol.cursor import Cursor
from tk9.protocol.follower import (
    Apply,
    Follower,
    FollowerPolicy,
    Reconnect,
    Replace,
    Resume,
    SendAck,
    SendPong,
    Stop,
)
from tk9.protocol.messages import EventFrame, EventsPage, Hello, Reset, ServerPing, ServerPong

from .helpers import EPOCH, SESSION, log_event, snapshot, status_event


def hello(
    head: int = 0,
    epoch: str = EPOCH,
    interval: float = 2.0,
    resume_from: int = 0,
    timeout: float | None = None,
) -> Hello:
    return Hello(
        session_id=SESSION,
        epoch=epoch,
        head=head,
        resume_from=resume_from,
        heartbeat_interval=interval,
        heartbeat_timeout=2 * interval if timeout is None else timeout,
    )


def make(
    *, after: int = 0, epoch: str | None = None, policy: FollowerPolicy | None = None
) -> Follower:
    return Follower(after=after, epoch=epoch, policy=policy, random=lambda: 0.5)


def applied(actions: list[object]) -> list[int]:
    return [a.event.seq for a in actions if isinstance(a, Apply)]


def test_applies_in_order_and_drops_duplicates() -> None:
    clock = FakeClock()
    f = make(policy=FollowerPolicy(ack_every=1000, ack_interval=100))
    f.on_connect(clock.monotonic())
    f.on_frame(hello(head=3), clock.monotonic())
    out: list[object] = []
    for seq in [1, 2, 2, 1, 3]:
        out += f.on_frame(EventFrame(event=log_event(seq)), clock.monotonic())
    assert applied(out) == [1, 2, 3]
    assert f.duplicates == 2
    assert f.cursor == Cursor(seq=3, epoch=EPOCH)


def test_gap_asks_to_resume_without_moving_the_cursor() -> None:
    f = make(after=4, epoch=EPOCH)
    actions = f.on_event(log_event(6), 0.0)
    assert actions == [Resume("gap")]
    assert f.cursor == Cursor(seq=4, epoch=EPOCH)


def test_event_of_another_epoch_asks_to_resume() -> None:
    f = make(after=4, epoch=EPOCH)
    assert f.on_event(log_event(5, epoch="other"), 0.0) == [Resume("epoch_mismatch")]
    assert f.cursor == Cursor(seq=4, epoch=EPOCH)


def test_fresh_follower_learns_the_epoch_from_hello() -> None:
    f = make()
    f.on_frame(hello(epoch="e2"), 0.0)
    assert f.cursor == Cursor(seq=0, epoch="e2")


def test_reset_replaces_state_and_moves_the_cursor() -> None:
    f = make(after=40, epoch="old")
    actions = f.on_frame(Reset(reason="unknown_epoch", snapshot=snapshot(7)), 0.0)
    assert isinstance(actions[0], Replace)
    assert actions[0].snapshot.seq == 7
    assert f.cursor == Cursor(seq=7, epoch=EPOCH)
    # the stream continues after the snapshot, and an event already in it is a duplicate
    assert applied(f.on_event(log_event(7), 0.0)) == []
    assert applied(f.on_event(log_event(8), 0.0)) == [8]


def test_ping_is_answered_with_the_same_ts_and_pong_is_silent() -> None:
    f = make()
    assert f.on_frame(ServerPing(ts=12.5), 0.0) == [SendPong(12.5)]
    assert f.on_frame(ServerPong(ts=1.0), 0.0) == []


def test_acks_are_cumulative_and_batched_by_count() -> None:
    f = make(policy=FollowerPolicy(ack_every=3, ack_interval=100))
    f.on_connect(0.0)
    acks = []
    for seq in range(1, 8):
        acks += [
            a.seq for a in f.on_event(log_event(seq, epoch=EPOCH), 0.0) if isinstance(a, SendAck)
        ]
    assert acks == [3, 6]


def test_acks_are_batched_by_time_and_flushed_by_tick() -> None:
    clock = FakeClock()
    f = make(policy=FollowerPolicy(ack_every=1000, ack_interval=0.25))
    f.on_connect(clock.monotonic())
    assert f.on_event(log_event(1), clock.monotonic()) == [Apply(log_event(1))]
    clock.advance(0.1)
    f.on_event(log_event(2), clock.monotonic())
    assert f.tick(clock.monotonic()) == []
    assert f.next_deadline(clock.monotonic()) == pytest.approx(0.15)
    clock.advance(0.15)
    assert f.tick(clock.monotonic()) == [SendAck(2)]
    clock.advance(5)
    assert f.tick(clock.monotonic()) == []  # nothing new to ack


def test_watchdog_says_stale_after_two_and_a_half_heartbeats_of_silence() -> None:
    clock = FakeClock()
    f = make()
    f.on_connect(clock.monotonic())
    f.on_frame(hello(interval=2.0), clock.monotonic())
    assert f.stale_after == 5.0
    clock.advance(4.9)
    assert f.tick(clock.monotonic()) == []
    f.on_frame(ServerPing(ts=1.0), clock.monotonic())  # any frame proves the link alive
    clock.advance(4.9)
    assert f.tick(clock.monotonic()) == []
    clock.advance(0.1)
    assert f.tick(clock.monotonic()) == [Resume("stale")]


def test_watchdog_is_as_quick_as_the_server_when_its_timeout_is_shorter() -> None:
    """Defaults (ping every 15 s, dead 10 s after a ping): a black hole is seen at 25 s."""
    clock = FakeClock()
    f = make()
    f.on_connect(clock.monotonic())
    f.on_frame(hello(interval=15.0, timeout=10.0), clock.monotonic())
    assert f.stale_after == 25.0
    clock.advance(24.9)
    assert f.tick(clock.monotonic()) == []
    clock.advance(0.1)
    assert f.tick(clock.monotonic()) == [Resume("stale")]


def test_watchdog_uses_the_default_interval_before_hello() -> None:
    f = make(policy=FollowerPolicy(heartbeat_interval=4.0))
    f.on_connect(0.0)
    assert f.next_deadline(0.0) == 10.0
    assert f.tick(10.0) == [Resume("stale")]


def test_backoff_is_jittered_exponential_and_capped() -> None:
    draws = iter([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.999])
    f = Follower(
        policy=FollowerPolicy(backoff_base=0.5, backoff_cap=10.0), random=lambda: next(draws)
    )
    delays = [f.on_close(CloseCode.INTERNAL_ERROR) for _ in range(9)]
    assert all(isinstance(d, Reconnect) for d in delays)
    values = [d.delay for d in delays if isinstance(d, Reconnect)]
    assert values[:2] == [0.25, 1.0]  # ceilings 0.5, 1.0; jitter in [ceiling/2, ceiling)
    assert values[2:6] == [1.0, 2.0, 4.0, 5.0]  # ceilings 2, 4, 8, capped 10 (half each)
    assert max(values) <= 10.0
    assert values[-1] == pytest.approx(5.0 + 0.999 * 5.0)


def test_hello_resets_the_backoff() -> None:
    f = make()
    f.on_close(1006)
    f.on_close(1006)
    assert f.attempt == 2
    f.on_frame(hello(), 0.0)
    assert f.attempt == 0
    decision = f.on_close(CloseCode.SERVICE_RESTART)
    assert decision == Reconnect(delay=0.25 / 2 + 0.5 * 0.25 / 2, attempt=1)


@pytest.mark.parametrize(
    "code",
    [1003, 1007, 1008, 1009, CloseCode.MALFORMED_FRAME, CloseCode.SESSION_NOT_FOUND, 4499],
)
def test_terminal_close_codes_stop(code: int) -> None:
    assert isinstance(make().on_close(code), Stop)


@pytest.mark.parametrize("code", [1000, 1001, 1006, 1011, 1012, 1013, 4500, 4508])
def test_other_close_codes_reconnect(code: int) -> None:
    assert isinstance(make().on_close(code), Reconnect)


def test_finished_only_when_terminal_and_caught_up_with_head() -> None:
    f = make()
    f.on_frame(hello(head=3), 0.0)
    f.on_event(log_event(1), 0.0)
    f.on_event(status_event(2, "completed"), 0.0)
    assert not f.finished  # seq 3 was announced by hello
    f.on_event(log_event(3), 0.0)
    assert f.finished


def test_reset_to_a_terminal_snapshot_finishes() -> None:
    f = make(after=2, epoch="old")
    f.on_frame(hello(head=9, epoch=EPOCH), 0.0)
    f.on_reset(snapshot(9, status="completed"), 0.0)
    assert f.finished


def test_long_poll_page_with_reset_then_events() -> None:
    f = make(after=50, epoch="gone")
    page = EventsPage(
        session_id=SESSION,
        epoch=EPOCH,
        head=5,
        events=[log_event(4), log_event(5)],
        reset=snapshot(3),
    )
    actions = f.on_page(page, 0.0)
    assert isinstance(actions[0], Replace)
    assert applied(actions) == [4, 5]
    assert f.cursor == Cursor(seq=5, epoch=EPOCH)
    assert f.head == 5


def test_long_poll_page_stops_at_a_gap() -> None:
    f = make(after=1, epoch=EPOCH)
    page = EventsPage(
        session_id=SESSION, epoch=EPOCH, head=9, events=[log_event(2), log_event(4), log_event(5)]
    )
    actions = f.on_page(page, 0.0)
    assert applied(actions) == [2]
    assert Resume("gap") in actions
    assert f.cursor == Cursor(seq=2, epoch=EPOCH)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        make(after=-1)
    with pytest.raises(ValueError):
        FollowerPolicy(backoff_base=20, backoff_cap=10)
    with pytest.raises(ValueError):
        FollowerPolicy(ack_every=0)
