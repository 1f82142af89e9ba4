"""Peer: FastAPI/Starlette on uvicorn, fan-out with ``for ws in viewers: await ws.send_text``.

python bench/peers/fastapi_loop.py PORT
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from common import produce
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()
viewers: dict[str, set[WebSocket]] = {}


@app.websocket("/s/{sid}")
async def viewer(ws: WebSocket, sid: str) -> None:
    await ws.accept()
    viewers.setdefault(sid, set()).add(ws)
    try:
        while True:
            await ws.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        viewers[sid].discard(ws)


async def publish(sid: str, text: str) -> None:
    for ws in list(viewers.get(sid, ())):
        try:
            await ws.send_text(text)
        except Exception:
            viewers[sid].discard(ws)


@app.post("/produce")
async def run(body: dict[str, Any]) -> dict[str, int]:
    await produce(body["sessions"], body["events"], body["rate"], body["padding"], publish)
    return {"appended": body["events"] * len(body["sessions"])}


@app.get("/health")
async def health() -> dict[str, bool]:
    return {"ok": True}


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
    )
