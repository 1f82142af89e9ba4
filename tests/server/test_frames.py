"""The shared frame cache: one encoding per batch, whatever the number of viewers."""

from __future__ import annotations

import json

from tk9.events import Event, EventType
from tk9.protocol.messages import SERVER_FRAME, EventFrame, EventsFrame
from tk9.server.frames import FrameCache


def ev(seq: int, epoch: str = "e1") -> Event:
    payload = {"level": "info", "message": f"m{seq}", "agent": None}
    return Event(
        seq=seq, epoch=epoch, timestamp=float(seq), event_type=EventType.LOG, payload=payload
    )


def test_frames_decode_to_what_was_sent_and_are_shared() -> None:
    cache = FrameCache()
    batch = EventsFrame(events=[ev(1), ev(2), ev(3)])
    text = cache.text(batch)
    assert SERVER_FRAME.validate_json(text).model_dump() == batch.model_dump()
    assert cache.text(EventsFrame(events=[ev(1), ev(2), ev(3)])) is text  # another viewer
    single = cache.text(EventFrame(event=ev(4)))
    assert json.loads(single) == {"type": "event", "event": ev(4).model_dump(mode="json")}


def test_epochs_do_not_share_and_capacity_is_bounded() -> None:
    cache = FrameCache(capacity=2)
    a = cache.text(EventFrame(event=ev(1, "a")))
    b = cache.text(EventFrame(event=ev(1, "b")))
    assert a != b
    cache.text(EventFrame(event=ev(2, "a")))
    assert len(cache._texts) == 2
