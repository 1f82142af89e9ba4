"""uvicorn's h11 protocol with a deadline on request heads (slowloris).

Stock uvicorn arms no timer before a connection's first request and cancels its keep-alive
timer on any byte, so a client that trickles a header line every few seconds holds a
connection (and its memory) forever. :class:`DeadlineH11Protocol` arms the keep-alive timer
as soon as the connection opens and lets it run until a *whole* request head has arrived:
a connection that has not sent one within ``timeout_keep_alive`` seconds is closed.
Request bodies have their own deadline (``TK9_BODY_TIMEOUT``, :mod:`tk9.server.edge`).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol


class DeadlineH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def data_received(self, data: bytes) -> None:
        # unlike the base class, do not stop the timer here: handle_events stops it once a
        # complete request head has been parsed
        self.conn.receive_data(data)
        self.handle_events()
