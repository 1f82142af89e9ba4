"""Property: whatever the disconnects, the viewer applies exactly the log, in order.

The client's pure :class:`~tk9.protocol.follower.Follower` is wired to the server's pure
:class:`~tk9.protocol.connection.ServerConnection` and :func:`~tk9.protocol.cursor.decide_resume`
over a simulated wire (a FIFO of JSON frames). Hypothesis interleaves appends, server pumping,
client reading, connection drops (frames in flight are lost), re-sent duplicates and even a
lost frame on a live connection (which the follower must notice as a gap and heal by resuming).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from tk9.events import Event
from tk9.protocol.connection import Close, ProtocolConfig, ServerConnection
from tk9.protocol.cursor import Cursor, Replay, StreamPosition, decide_resume
from tk9.protocol.cursor import Reset as ResetDecision
from tk9.protocol.follower import Apply, Follower, Replace, Resume, SendAck, SendPong
from tk9.protocol.messages import SERVER_FRAME, ClientPong
from tk9.state import SessionState

from .helpers import EPOCH, SESSION, log_event

CONFIG = ProtocolConfig(heartbeat_interval=5.0, heartbeat_timeout=5.0, outbound_limit=8)


@dataclass
class World:
    """A log, one server connection at a time, the wire between them, and one viewer."""

    log: list[Event] = field(default_factory=list)
    follower: Follower = field(default_factory=lambda: Follower(random=lambda: 0.5))
    conn: ServerConnection | None = None
    wire: deque[str] = field(default_factory=deque)
    applied: list[int] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)
    now: float = 0.0

    def append(self, count: int) -> None:
        for _ in range(count):
            self.log.append(log_event(len(self.log) + 1))

    def connect(self) -> None:
        if self.conn is not None:
            return
        self.follower.on_connect(self.now)
        conn = ServerConnection(session_id=SESSION, epoch=EPOCH, config=CONFIG, now=self.now)
        position = StreamPosition(epoch=EPOCH, first_seq=1, last_seq=len(self.log))
        cursor = self.follower.cursor
        decision = decide_resume(Cursor(seq=cursor.seq, epoch=cursor.epoch), position)
        if isinstance(decision, Replay):
            out = conn.start(decision.after, len(self.log))
        else:
            assert isinstance(decision, ResetDecision)
            snap = SessionState(session_id=SESSION, epoch=EPOCH, seq=len(self.log))
            out = conn.start_with_reset(decision.reason, snap, len(self.log))
        self.conn = conn
        self._send(out)

    def disconnect(self, code: int = 1006) -> None:
        if self.conn is None:
            return
        self.conn = None
        self.wire.clear()  # frames in flight die with the connection
        self.follower.on_close(code)

    def pump(self) -> None:
        """The server driver: read what the connection asks for and send it."""
        if self.conn is None:
            return
        want = self.conn.read_request()
        frames = self.conn.feed(self.log[self.conn.cursor : self.conn.cursor + want], self.now)
        self._send(frames)
        self.conn.sent(len(frames), self.now)

    def _send(self, outputs: list[object]) -> None:
        for out in outputs:
            if isinstance(out, Close):
                self.disconnect(out.code)
                return
            if hasattr(out, "model_dump_json"):
                self.wire.append(out.model_dump_json())

    def read(self, count: int) -> None:
        """The client driver: read frames and perform the follower's actions."""
        for _ in range(count):
            if self.conn is None or not self.wire:
                return
            raw = self.wire.popleft()
            self.delivered.append(raw)
            for action in self.follower.on_frame(SERVER_FRAME.validate_json(raw), self.now):
                if isinstance(action, Apply):
                    self.applied.append(action.event.seq)
                elif isinstance(action, Replace):
                    self.applied = list(range(1, action.snapshot.seq + 1))
                elif isinstance(action, SendAck):
                    reply = json.dumps({"type": "ack", "seq": action.seq})
                    self._send(self.conn.receive(reply, self.now))
                elif isinstance(action, SendPong):
                    self._send(
                        self.conn.receive(ClientPong(ts=action.ts).model_dump_json(), self.now)
                    )
                elif isinstance(action, Resume):
                    self.disconnect()
                if self.conn is None:
                    return

    def redeliver(self) -> None:
        """An at-least-once transport may hand the same frame over again."""
        if self.delivered and self.conn is not None:
            self.wire.appendleft(self.delivered[-1])

    def lose_one(self) -> None:
        """Lose a frame on a live connection (the follower must spot the hole)."""
        if self.wire:
            self.wire.popleft()

    def pass_time(self, seconds: float) -> None:
        """Both sides' timers: server heartbeats, the client's acks and watchdog."""
        self.now += seconds
        if self.conn is not None:
            self._send(self.conn.tick(self.now))
        for action in self.follower.tick(self.now):
            if isinstance(action, Resume):
                self.disconnect()
            elif isinstance(action, SendAck) and self.conn is not None:
                self._send(
                    self.conn.receive(json.dumps({"type": "ack", "seq": action.seq}), self.now)
                )

    def settle(self) -> None:
        """Reconnect and run until the viewer has everything (bounded). When nothing moves
        (frames were lost and the server has nothing new), time passes: the watchdog heals it."""
        caught_up = Cursor(seq=len(self.log), epoch=EPOCH)
        for _ in range(10 * (len(self.log) + 10)):
            if self.follower.cursor == caught_up and not self.wire:
                return
            self.connect()
            self.pump()
            if not self.wire:
                self.pass_time(self.follower.stale_after)
            self.read(len(self.wire))
        raise AssertionError("viewer did not converge")


OPS = st.one_of(
    st.tuples(st.just("append"), st.integers(1, 20)),
    st.tuples(st.just("pump"), st.just(0)),
    st.tuples(st.just("read"), st.integers(1, 12)),
    st.tuples(st.just("connect"), st.just(0)),
    st.tuples(st.just("disconnect"), st.sampled_from([1000, 1001, 1006, 1012, 4500, 4508])),
    st.tuples(st.just("redeliver"), st.just(0)),
    st.tuples(st.just("lose"), st.just(0)),
    st.tuples(st.just("time"), st.floats(0, 20)),
)


def run(world: World, ops: list[tuple[str, float]]) -> None:
    for op, arg in ops:
        if op == "append":
            world.append(int(arg))
        elif op == "pump":
            world.pump()
        elif op == "read":
            world.read(int(arg))
        elif op == "connect":
            world.connect()
        elif op == "disconnect":
            world.disconnect(int(arg))
        elif op == "redeliver":
            world.redeliver()
        elif op == "lose":
            world.lose_one()
        elif op == "time":
            world.now += arg
            if world.conn is not None:
                world._send(world.conn.tick(world.now))
            for action in world.follower.tick(world.now):
                if isinstance(action, Resume):
                    world.disconnect()
                elif isinstance(action, SendAck) and world.conn is not None:
                    world._send(
                        world.conn.receive(json.dumps({"type": "ack", "seq": action.seq}), 0)
                    )
    world.settle()


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(OPS, max_size=80))
def test_applied_seqs_equal_the_log(ops: list[tuple[str, float]]) -> None:
    world = World()
    run(world, ops)
    assert world.applied == [e.seq for e in world.log]


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(OPS, max_size=60), forged=st.integers(1, 10_000))
def test_a_forged_cursor_is_healed_by_reset(ops: list[tuple[str, float]], forged: int) -> None:
    world = World(follower=Follower(after=forged, epoch="another-epoch", random=lambda: 0.5))
    world.append(3)
    run(world, ops)
    assert world.applied == [e.seq for e in world.log]
