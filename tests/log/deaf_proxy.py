"""A TCP proxy whose open connections can be made deaf: still open, carrying nothing.

What a NAT or load balancer that silently drops an idle connection looks like to a client;
connections opened after :meth:`DeafProxy.deafen` are forwarded normally.
"""

from __future__ import annotations

import asyncio
import contextlib


class DeafProxy:
    """Forward 127.0.0.1:<port> to ``target_port`` until :meth:`deafen`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.Event] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def deafen(self) -> None:
        """Stop carrying bytes, both ways, on every connection open now (none is closed)."""
        for deaf in self._live:
            deaf.set()
        self._live.clear()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        deaf = asyncio.Event()
        self._live.add(deaf)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst, deaf))
            self._tasks.add(task)

    @staticmethod
    async def _pipe(
        src: asyncio.StreamReader, dst: asyncio.StreamWriter, deaf: asyncio.Event
    ) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await src.read(65536):
                if deaf.is_set():
                    await deaf.wait()  # already set: swallow this and everything after
                    continue
                dst.write(data)
                await dst.drain()
