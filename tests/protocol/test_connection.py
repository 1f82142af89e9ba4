"""The per-connection state machine: handoff, heartbeat, acks, bad frames, bounded outbound."""

import json

import pytest

from tk9.clock import FakeClock
from tk9.errors import CloseCode
from tk9.events import Event, EventType
from tk9.protocol.connection import AckObserved, Close, ProtocolConfig, ServerConnection
from tk9.protocol.cursor import ResetReason
from tk9.protocol.messages import (
    EventFrame,
    EventsFrame,
    Hello,
    Reset,
    ServerPing,
    ServerPong,
    frame_events,
)
from tk9.state import SessionState

CFG = ProtocolConfig(heartbeat_interval=15, heartbeat_timeout=10, outbound_limit=4, send_timeout=30)


def ev(seq: int, epoch: str = "e1") -> Event:
    return Event(
        seq=seq,
        epoch=epoch,
        timestamp=1.0 * seq,
        event_type=EventType.LOG,
        payload={"level": "info", "message": f"m{seq}", "agent": None},
    )


def conn(clock: FakeClock, after: int = 0, head: int = 0) -> ServerConnection:
    c = ServerConnection(session_id="s", epoch="e1", config=CFG, now=clock.monotonic())
    out = c.start(after, head)
    assert isinstance(out[0], Hello)
    assert out[0].resume_from == after
    return c


def seqs(out: list[object]) -> list[int]:
    return [e.seq for o in out for e in frame_events(o)]


def test_replay_then_live_without_gap_or_duplicate() -> None:
    clock = FakeClock()
    c = conn(clock, after=2, head=5)
    # history read overlaps the cursor: duplicates are dropped
    assert seqs(c.feed([ev(1), ev(2), ev(3), ev(4)], clock.monotonic())) == [3, 4]
    c.sent(2, clock.monotonic())
    # live entries arriving while history is still being read, overlapping again
    assert seqs(c.feed([ev(4), ev(5), ev(6)], clock.monotonic())) == [5, 6]
    assert c.cursor == 6
    assert c.stats.replayed == 3
    assert c.stats.duplicates_dropped == 3


def test_gap_sends_the_prefix_then_says_resync() -> None:
    clock = FakeClock()
    c = conn(clock)
    out = c.feed([ev(1), ev(3)], clock.monotonic())
    assert seqs(out[:-1]) == [1]
    close = out[-1]
    assert isinstance(close, Close)  # explicit: never a silent [] and never a re-read loop
    assert close.code == CloseCode.TRY_AGAIN_LATER
    assert close.frame is not None and close.frame.code == "resync" and close.frame.retryable
    assert c.cursor == 1  # 3 is never sent before 2
    assert c.read_request() == 0
    assert c.feed([ev(2)], clock.monotonic()) == [close]  # closed stays closed


def test_other_epoch_is_never_sent() -> None:
    clock = FakeClock()
    c = conn(clock)
    out = c.feed([ev(1, epoch="other")], clock.monotonic())
    assert len(out) == 1 and isinstance(out[0], Close) and "re-created" in out[0].reason


def test_nothing_new_is_the_only_empty_answer() -> None:
    clock = FakeClock()
    c = conn(clock)
    c.feed([ev(1), ev(2)], clock.monotonic())
    assert c.feed([ev(1), ev(2)], clock.monotonic()) == []
    assert c.closed is None


def test_push_accounts_a_shared_frame_without_building_one() -> None:
    clock = FakeClock()
    c = conn(clock)
    c.feed([ev(1)], clock.monotonic())
    c.sent(1, clock.monotonic())
    assert not c.can_push(3) and c.can_push(2)
    c.pushed(2, 4, clock.monotonic())
    assert c.cursor == 4 and c.stats.delivered == 4
    assert c.read_request() == 4  # a completed push holds nothing in flight
    assert c.feed([ev(4), ev(5)], clock.monotonic())[0] == EventFrame.model_construct(event=ev(5))


def test_without_heartbeats_only_the_send_watchdog_ticks() -> None:
    clock = FakeClock()
    c = conn(clock)
    c.heartbeats = False
    assert c.next_deadline() is None
    clock.advance(1000)
    assert c.tick(clock.monotonic()) == []
    c.feed([ev(1)], clock.monotonic())
    assert c.next_deadline() == clock.monotonic() + 30
    clock.advance(30)
    out = c.tick(clock.monotonic())
    assert isinstance(out[0], Close) and out[0].code == CloseCode.SLOW_CONSUMER


def test_outbound_is_bounded_by_what_the_transport_accepted() -> None:
    clock = FakeClock()
    c = conn(clock)
    assert c.read_request() == 4
    c.feed([ev(1), ev(2), ev(3)], clock.monotonic())
    assert c.read_request() == 1
    c.feed([ev(4)], clock.monotonic())
    assert c.read_request() == 0  # stalled viewer: stop reading the log, buffer nothing more
    c.sent(4, clock.monotonic())
    assert c.read_request() == 4


def test_stalled_viewer_is_closed_after_send_timeout() -> None:
    clock = FakeClock()
    c = conn(clock)
    c.feed([ev(1)], clock.monotonic())
    clock.advance(29)
    assert not any(isinstance(o, Close) for o in c.tick(clock.monotonic()))
    c.receive(json.dumps({"type": "pong"}), clock.monotonic())
    clock.advance(1)
    out = c.tick(clock.monotonic())
    assert isinstance(out[0], Close)
    assert out[0].code == CloseCode.SLOW_CONSUMER


def test_ping_every_interval() -> None:
    clock = FakeClock()
    c = conn(clock)
    assert c.next_deadline() == clock.monotonic() + 15
    clock.advance(14.9)
    assert c.tick(clock.monotonic()) == []
    clock.advance(0.1)
    out = c.tick(clock.monotonic())
    assert len(out) == 1 and isinstance(out[0], ServerPing)
    c.receive('{"type":"pong"}', clock.monotonic())
    for _ in range(3):
        clock.advance(15)
        out = c.tick(clock.monotonic())
        assert isinstance(out[0], ServerPing)
        c.receive('{"type":"pong"}', clock.monotonic())
    assert c.stats.pings_sent == 4
    assert c.closed is None


def test_dead_after_no_frame_within_timeout_of_ping() -> None:
    clock = FakeClock()
    c = conn(clock)
    clock.advance(15)
    assert isinstance(c.tick(clock.monotonic())[0], ServerPing)
    assert c.next_deadline() == clock.monotonic() + 10
    clock.advance(9.99)
    assert c.tick(clock.monotonic()) == []
    clock.advance(0.01)
    out = c.tick(clock.monotonic())
    assert isinstance(out[0], Close)
    assert out[0].code == CloseCode.HEARTBEAT_TIMEOUT
    assert out[0].frame is not None and out[0].frame.retryable
    assert c.read_request() == 0


def test_any_frame_counts_as_alive() -> None:
    clock = FakeClock()
    c = conn(clock)
    clock.advance(15)
    c.tick(clock.monotonic())
    clock.advance(5)
    c.receive('{"type":"ack","seq":0}', clock.monotonic())
    clock.advance(9)
    assert c.tick(clock.monotonic()) == []


def test_client_ping_gets_pong() -> None:
    clock = FakeClock()
    c = conn(clock)
    assert c.receive('{"type":"ping","ts":12.5}', clock.monotonic()) == [ServerPong(ts=12.5)]


def test_cumulative_ack_reports_lag() -> None:
    clock = FakeClock()
    c = conn(clock)
    c.feed([ev(1), ev(2), ev(3)], clock.monotonic())
    clock.advance(0.25)
    assert c.receive('{"type":"ack","seq":2}', clock.monotonic()) == [AckObserved(2, 0.25)]
    assert c.receive('{"type":"ack","seq":1}', clock.monotonic()) == []  # not cumulative progress
    assert c.stats.acked == 2


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"ack","seq":true}',
        '{"type":"ack","seq":1.0}',
        '{"type":"ack","seq":1,"x":1}',
        '{"type":"ack"}',
    ],
)
def test_ack_fast_path_changes_no_verdict(frame: str) -> None:
    """Only the exact valid shape skips pydantic; anything else gets pydantic's verdict."""
    from tk9.protocol.messages import CLIENT_FRAME

    clock = FakeClock()
    c = conn(clock)
    c.feed([ev(1), ev(2)], clock.monotonic())
    try:
        expected: object = CLIENT_FRAME.validate_json(frame)
    except Exception:
        expected = None
    out = c.receive(frame, clock.monotonic())
    if expected is None:
        assert isinstance(out[0], Close) and out[0].code == CloseCode.MALFORMED_FRAME
    else:
        assert not any(isinstance(o, Close) for o in out)


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"ack","seq":2}',
        '{"type": "ack", "seq": 2}',
        '{"type":"ack","seq":1}',
        '{"type":"ack","seq":99}',
        '{"type":"ack","seq":true}',
        '{"type":"ack","seq":-1}',
        '{"type":"ack","seq":1,"x":1}',
        '{"type":"ping","ts":1}',
        '{"type":"pong","ts":1}',
        "not json",
        "[]",
    ],
)
def test_receive_ack_takes_plain_acks_exactly_as_receive_would_and_nothing_else(
    frame: str,
) -> None:
    clock = FakeClock()
    fast, slow = conn(clock), conn(clock)
    for c in (fast, slow):
        c.feed([ev(1), ev(2), ev(3)], clock.monotonic())
        c.receive('{"type":"ack","seq":1}', clock.monotonic())
    clock.advance(0.5)
    taken = fast.receive_ack(frame, clock.monotonic())
    expected = slow.receive(frame, clock.monotonic())
    if taken is None:  # left untouched for receive, which then gives the same verdict
        assert fast.stats.acked == 1 and fast.closed is None
        assert fast.receive(frame, clock.monotonic()) == expected
    else:
        plain = json.loads(frame)
        assert set(plain) == {"type", "seq"} and plain["type"] == "ack"
        assert taken == expected
    assert fast.stats.acked == slow.stats.acked and fast.closed == slow.closed
    assert fast.next_deadline() == slow.next_deadline()  # the same sign of life


def test_receive_ack_on_a_closed_connection_takes_nothing() -> None:
    clock = FakeClock()
    c = conn(clock)
    c.receive('{"type":"ack","seq":99}', clock.monotonic())
    assert c.closed is not None
    assert c.receive_ack('{"type":"ack","seq":0}', clock.monotonic()) is None


def test_ack_beyond_delivered_is_a_forged_cursor() -> None:
    clock = FakeClock()
    c = conn(clock)
    out = c.receive('{"type":"ack","seq":99}', clock.monotonic())
    assert isinstance(out[0], Close) and out[0].code == CloseCode.BAD_CURSOR


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", CloseCode.MALFORMED_FRAME),
        ("[1,2]", CloseCode.MALFORMED_FRAME),
        ('{"no":"type"}', CloseCode.MALFORMED_FRAME),
        ('{"type":"subscribe"}', CloseCode.UNKNOWN_FRAME_TYPE),
        ('{"type":"ack","seq":-1}', CloseCode.MALFORMED_FRAME),
        ('{"type":"ack","seq":"x"}', CloseCode.MALFORMED_FRAME),
        ('{"type":"ping","extra":1}', CloseCode.MALFORMED_FRAME),
        ('{"type":"ping","ts":"' + "x" * 70_000 + '"}', CloseCode.FRAME_TOO_LARGE),
        ('{"type":"ping","ts":"' + "é" * 40_000 + '"}', CloseCode.FRAME_TOO_LARGE),
        (b"\x00\x01", CloseCode.UNSUPPORTED_DATA),
    ],
)
def test_bad_frames_close_with_documented_code(frame: str | bytes, code: CloseCode) -> None:
    clock = FakeClock()
    c = conn(clock)
    out = c.receive(frame, clock.monotonic())
    assert len(out) == 1 and isinstance(out[0], Close)
    assert out[0].code == code
    assert out[0].frame is not None and not out[0].frame.retryable
    assert c.receive('{"type":"ping"}', clock.monotonic()) == []  # nothing after close


def test_reset_start_carries_snapshot_and_continues_after_it() -> None:
    clock = FakeClock()
    c = ServerConnection(session_id="s", epoch="e1", config=CFG, now=clock.monotonic())
    snap = SessionState(session_id="s", epoch="e1", seq=7)
    out = c.start_with_reset(ResetReason.FUTURE_SEQ, snap, head=7)
    assert isinstance(out[1], Reset) and out[1].snapshot.seq == 7
    assert seqs(c.feed([ev(7), ev(8)], clock.monotonic())) == [8]


def test_shutdown_closes_with_1012() -> None:
    clock = FakeClock()
    c = conn(clock)
    close = c.shutdown()
    assert close.code == 1012
    assert close.frame is not None and close.frame.retryable


def test_ready_events_go_out_together_in_bounded_frames() -> None:
    clock = FakeClock()
    cfg = ProtocolConfig(outbound_limit=300, max_batch_events=100)
    c = ServerConnection(session_id="s", epoch="e1", config=cfg, now=clock.monotonic())
    c.start(0, 0)
    out = c.feed([ev(i) for i in range(1, 251)], clock.monotonic())
    assert [type(o) for o in out] == [EventsFrame, EventsFrame, EventsFrame]
    assert [len(frame_events(o)) for o in out] == [100, 100, 50]
    assert seqs(out) == list(range(1, 251))
    single = c.feed([ev(251)], clock.monotonic())
    assert len(single) == 1 and isinstance(single[0], EventFrame)
