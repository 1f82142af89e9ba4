"""A small seeded asyncio TCP proxy that breaks connections on command.

Where a fault needs finer control than iptables gives (reset exactly now, black-hole only the
connections already open, refuse new ones), clients connect through this proxy instead:

* ``PASS``       bytes flow both ways;
* ``BLACK_HOLE`` nothing is forwarded or closed — the connection just goes silent, no FIN, no RST
  (new connections are accepted and go silent too);
* ``REFUSE``     new connections are closed at once (a server that is down).

:meth:`FaultProxy.reset` aborts live connections with a TCP RST (``SO_LINGER`` 0); which ones,
when only a fraction is asked for, is drawn from the proxy's own seeded RNG, so a scenario
replays identically for the same seed.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from dataclasses import dataclass, field
from enum import StrEnum


class Mode(StrEnum):
    PASS = "pass"
    BLACK_HOLE = "black_hole"
    REFUSE = "refuse"


@dataclass(eq=False)
class _Pair:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        for task in self.tasks:
            task.cancel()


class FaultProxy:
    """``127.0.0.1:<port>`` -> ``target_host:target_port`` with injectable faults."""

    def __init__(self, target_host: str, target_port: int, *, seed: int) -> None:
        self.target = (target_host, target_port)
        self.rng = random.Random(seed)
        self.mode = Mode.PASS
        self.connections = 0
        self.resets = 0
        self._pairs: set[_Pair] = set()
        self._resume = asyncio.Event()
        self._resume.set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def live(self) -> int:
        return len(self._pairs)

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        if mode is Mode.BLACK_HOLE:
            self._resume.clear()
        else:
            self._resume.set()

    def reset(self, fraction: float = 1.0) -> int:
        """Abort (RST) ``fraction`` of the live connections, chosen by the seeded RNG."""
        pairs = sorted(self._pairs, key=lambda p: id(p))
        chosen = [p for p in pairs if fraction >= 1.0 or self.rng.random() < fraction]
        for pair in chosen:
            self._pairs.discard(pair)
            pair.abort()
        self.resets += len(chosen)
        return len(chosen)

    async def close(self) -> None:
        self.reset()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode is Mode.REFUSE:
            writer.transport.abort()
            return
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = _Pair(client=writer, upstream=up_writer)
        self._pairs.add(pair)
        pair.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, pair)),
            asyncio.create_task(self._pump(up_reader, writer, pair)),
        ]

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pair: _Pair
    ) -> None:
        try:
            while True:
                data = await reader.read(65536)
                # A black hole holds bytes (and FINs) back until the mode changes.
                await self._resume.wait()
                if pair not in self._pairs:
                    return
                if not data:
                    writer.write_eof() if writer.can_write_eof() else writer.close()
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            if pair in self._pairs:
                self._pairs.discard(pair)
                pair.abort()
        finally:
            if pair in self._pairs and all(
                t.done() or t is asyncio.current_task() for t in pair.tasks
            ):
                self._pairs.discard(pair)
                for w in (pair.client, pair.upstream):
                    w.close()
