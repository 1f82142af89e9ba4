"""Peer: a bare ``websockets`` server, fan-out with ``websockets.asyncio.server.broadcast``.

    python bench/peers/bare_websockets.py PORT

Viewers on ``/s/{sid}``; ``/produce`` takes one JSON text (the body of a produce request),
runs the paced producers and answers ``done``; ``/health`` answers ``ok``.
"""

from __future__ import annotations

import asyncio
import json
import sys

from common import produce
from websockets.asyncio.server import ServerConnection, broadcast, serve

viewers: dict[str, set[ServerConnection]] = {}


def publish(sid: str, text: str) -> None:
    broadcast(viewers.get(sid, set()), text)


async def handler(ws: ServerConnection) -> None:
    path = ws.request.path if ws.request is not None else ""
    if path == "/produce":
        body = json.loads(await ws.recv())
        await produce(body["sessions"], body["events"], body["rate"], body["padding"], publish)
        await ws.send("done")
        return
    if path == "/health":
        await ws.send("ok")
        return
    sid = path.rsplit("/", 1)[-1]
    viewers.setdefault(sid, set()).add(ws)
    try:
        async for _ in ws:
            pass
    finally:
        viewers[sid].discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, max_size=None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
