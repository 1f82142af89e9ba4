"""What the peer servers share: tk9's frame shape for one event, and the paced producer.

Each peer runs the same producer model as tk9's ``POST /api/_test/produce`` with ``rate``:
one task per session, one event at a time on a fixed schedule, phases spread over one period.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable


def frame(session: str, seq: int, padding: str) -> str:
    """The text tk9 sends for one event (``event`` frame), with the append time in it."""
    event = {
        "seq": seq,
        "epoch": "0123456789abcdef",
        "timestamp": time.time(),
        "event_type": "log",
        "session_id": session,
        "payload": {"level": "info", "message": f"bench {seq} {padding}"},
    }
    return json.dumps({"type": "event", "event": event}, separators=(",", ":"))


async def produce(
    sessions: list[str],
    events: int,
    rate: float,
    padding: str,
    publish: Callable[[str, str], Awaitable[None] | None],
) -> None:
    loop = asyncio.get_running_loop()
    period = 1.0 / rate

    async def one(i: int, sid: str) -> None:
        due = loop.time() + period * i / len(sessions)
        for n in range(1, events + 1):
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            result = publish(sid, frame(sid, n, padding))
            if result is not None:
                await result
            due += period

    await asyncio.gather(*(one(i, s) for i, s in enumerate(sessions)))
