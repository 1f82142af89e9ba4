"""The WebSocket guard's dead-peer limit, driven by hand on an injected clock (nothing sleeps).

:class:`tk9.server.wsguard.GuardedWebSocketProtocol` is uvicorn's protocol object: here it gets
a fake transport (records what is written, whether it was closed or aborted) and a loop whose
``time()`` and timers are a manual clock, while its ASGI task runs on the real loop. A client
(websockets' sans-I/O protocol) shakes hands, then either never reads again — sending one
tiny valid frame every 3 s — or reads and answers the server's pings.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from tk9.server.frames import text_frame
from tk9.server.wsguard import DEAD_REASON, FRAMES_EXTENSION, guarded_ws
from tk9.settings import Settings


class Timer:
    def __init__(self, when: float, callback: Callable[..., object], args: tuple[Any, ...]):
        self.when, self.callback, self.args = when, callback, args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualLoop:
    """The parts of an event loop the protocol uses for time; tasks go to the real loop."""

    def __init__(self, real: asyncio.AbstractEventLoop) -> None:
        self.real = real
        self.now = 100.0
        self._timers: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> Timer:
        return self.call_at(self.now + delay, callback, *args)

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> Timer:
        timer = Timer(when, callback, args)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    def create_task(self, coro: Any) -> asyncio.Task[Any]:
        return self.real.create_task(coro)

    def advance(self, seconds: float) -> None:
        """Move the clock, running every timer that falls due on the way, in order."""
        end = self.now + seconds
        while self._timers and self._timers[0][0] <= end:
            when, _, timer = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            if not timer.cancelled:
                timer.callback(*timer.args)
        self.now = end


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closing = False
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = self.aborted = True

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name in ("sockname", "peername") else default

    def take(self) -> bytes:
        data = bytes(self.written)
        self.written.clear()
        return data


class Viewer:
    """An ASGI app standing in for the viewer handler: accept, then read until disconnect."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.disconnect: int | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self.disconnect = message["code"]
                return
            self.received.append(message["text"])


async def settle() -> None:
    """Let the ASGI task run what it can without the clock moving (a bounded number of turns)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def open_guarded() -> tuple[Any, ManualLoop, FakeTransport, ClientProtocol, Viewer]:
    settings = Settings(heartbeat_interval=15.0, heartbeat_timeout=10.0)
    app = Viewer()
    config = Config(app, ws=guarded_ws(settings), lifespan="off", log_config=None)
    config.load()
    loop = ManualLoop(asyncio.get_running_loop())
    proto = guarded_ws(settings)(config, ServerState(), {}, _loop=loop)  # type: ignore[arg-type]
    transport = FakeTransport()
    proto.connection_made(transport)
    client = ClientProtocol(parse_uri("ws://127.0.0.1/ws/sessions/x"))
    client.send_request(client.connect())
    proto.data_received(b"".join(client.data_to_send()))
    await settle()
    client.receive_data(transport.take())
    assert client.state is State.OPEN
    return proto, loop, transport, client, app


def closes_in(data: bytes) -> list[Close]:
    """Close frames among the server's (unmasked) frames in ``data``."""
    found = []
    while len(data) >= 2:
        opcode, length, at = data[0] & 0x0F, data[1] & 0x7F, 2
        if length == 126:
            length, at = int.from_bytes(data[2:4]), 4
        if opcode == Opcode.CLOSE:
            found.append(Close.parse(data[at : at + length]))
        data = data[at + length :]
    return found


ACK = json.dumps({"type": "ack", "seq": 0})


async def test_a_peer_sending_slow_valid_frames_but_never_reading_is_closed_at_25_s() -> None:
    proto, loop, transport, client, app = await open_guarded()
    out = b""
    for second in range(1, 29):
        if second % 3 == 0:  # one tiny, valid protocol frame every 3 s: it never reads
            client.send_text(ACK.encode())
            proto.data_received(b"".join(client.data_to_send()))
        loop.advance(1.0)
        await settle()
        out += transport.take()
        if second < 25:
            assert not transport.closing, f"closed early, at {second} s"
            assert app.disconnect is None
        if second == 25:
            # interval 15 s + timeout 10 s: its ping (at 15 s) went unanswered
            assert transport.closing and not transport.aborted
            assert [(c.code, c.reason) for c in closes_in(out)] == [(4500, DEAD_REASON)]
            assert app.disconnect == 4500
    assert len(app.received) == 8  # its frames did reach the app until then
    assert transport.aborted, "the TCP connection outlived the close grace (3 s)"


async def test_a_peer_that_reads_answers_the_pings_and_stays() -> None:
    proto, loop, transport, client, app = await open_guarded()
    pings = 0
    for _ in range(120):  # two minutes
        loop.advance(1.0)
        await settle()
        data = transport.take()
        if data:
            client.receive_data(data)  # a reading peer: websockets answers pings by itself
            pings += sum(1 for e in client.events_received() if isinstance(e, Frame))
            proto.data_received(b"".join(client.data_to_send()))
    assert pings == 8  # one every 15 s
    assert not transport.closing and app.disconnect is None


async def test_a_frame_serialised_once_reaches_the_client_and_is_refused_unless_writable() -> None:
    proto, _loop, transport, client, _app = await open_guarded()
    assert proto.scope["extensions"][FRAMES_EXTENSION] is proto
    frame = text_frame('{"type":"event"}')
    assert proto.write_frame(frame)
    await proto.send_frame(frame)
    client.receive_data(transport.take())
    texts = [e.data for e in client.events_received() if isinstance(e, Frame)]
    assert texts == [b'{"type":"event"}'] * 2  # valid frames, as the client parses them

    proto.pause_writing()  # the peer is not reading: nothing is written, the caller pulls
    assert not proto.write_frame(frame) and transport.take() == b""
    waiting = asyncio.ensure_future(proto.send_frame(frame))
    await settle()
    assert not waiting.done()  # send_frame waits for the buffer to drain, like ASGI send
    proto.resume_writing()
    await settle()
    assert waiting.done() and transport.take() == frame

    client.send_close(1000)  # the peer closes: no data frame may follow our close reply
    proto.data_received(b"".join(client.data_to_send()))
    await settle()
    transport.take()
    assert not proto.write_frame(frame) and transport.take() == b""
    with pytest.raises(OSError):  # uvicorn's ClientDisconnected, as its ASGI send raises
        await proto.send_frame(frame)
    assert transport.take() == b""


async def test_the_apps_text_hook_takes_messages_without_the_asgi_queue() -> None:
    proto, _loop, transport, client, app = await open_guarded()
    taken: list[str] = []

    def hook(text: str) -> bool:
        taken.append(text)
        return "ack" in text  # takes acks; anything else goes to receive as usual

    proto.on_text = hook
    for text in (ACK, '{"type":"ping","ts":1}', ACK):
        client.send_text(text.encode())
        proto.data_received(b"".join(client.data_to_send()))
        await settle()
    assert taken == [ACK, '{"type":"ping","ts":1}', ACK]
    assert app.received == ['{"type":"ping","ts":1}']  # only what the hook left
    proto.on_text = None
    client.send_text(ACK.encode())
    proto.data_received(b"".join(client.data_to_send()))
    await settle()
    assert app.received[-1] == ACK and transport.take() == b""
