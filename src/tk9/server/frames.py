"""Encoded event frames, shared by every viewer of a session.

Viewers that follow the same session live read the same batches from the log, so the JSON text
of a frame — and, for WebSocket viewers, the serialised WebSocket frame — is built once and
reused: the cost of a delivery is a write, not an encoding.
"""

from __future__ import annotations

from collections.abc import Sequence

from websockets.frames import Frame, Opcode

from tk9.events import Entry, Event
from tk9.protocol.messages import EventFrame, EventsFrame


def text_frame(text: str) -> bytes:
    """A server-to-client WebSocket text frame (unmasked, no extension) carrying ``text``."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class FrameCache:
    """Bounded maps from ``(epoch, first seq, last seq)`` to the frame's JSON text and to its
    serialised WebSocket frame."""

    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._texts: dict[tuple[str, int, int], str] = {}
        self._frames: dict[tuple[str, int, int], bytes] = {}

    def text(self, frame: EventFrame | EventsFrame) -> str:
        events: list[Event] = [frame.event] if isinstance(frame, EventFrame) else frame.events
        return self.events_text(events)

    def events_text(self, events: Sequence[Entry]) -> str:
        """``event`` frame text for one event, ``events`` frame text for several."""
        key = (events[0].epoch, events[0].seq, events[-1].seq)
        text = self._texts.get(key)
        if text is None:
            if len(events) == 1:
                text = '{"type":"event","event":' + events[0].to_json() + "}"
            else:
                body = ",".join(e.to_json() for e in events)
                text = '{"type":"events","events":[' + body + "]}"
            if len(self._texts) >= self._capacity:
                del self._texts[next(iter(self._texts))]  # oldest first: live frames are new
            self._texts[key] = text
        return text

    def events_frame(self, events: Sequence[Entry]) -> bytes:
        """:meth:`events_text` as a serialised WebSocket text frame."""
        key = (events[0].epoch, events[0].seq, events[-1].seq)
        frame = self._frames.get(key)
        if frame is None:
            frame = text_frame(self.events_text(events))
            if len(self._frames) >= self._capacity:
                del self._frames[next(iter(self._frames))]
            self._frames[key] = frame
        return frame
