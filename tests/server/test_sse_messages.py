"""How the SSE port writes events: one ``event`` message for one event, ``events`` messages
(the WebSocket ``events`` frame, at most ``max_events`` each) for several, ``id`` = last seq."""

from __future__ import annotations

import json

from httpx_sse._decoders import SSEDecoder

from tk9.events import Event, EventType, StoredEntry, new_stored_entry
from tk9.protocol.messages import SERVER_FRAME, EventsFrame
from tk9.server.api_stream import SsePort


def events(first: int, last: int) -> list[Event]:
    return [
        Event.from_stored(seq, "e1", 1.5 + seq, EventType.LOG, json.dumps({"message": f"m{seq}\n"}))
        for seq in range(first, last + 1)
    ]


def messages(data: bytes | str) -> list[tuple[str, str, str]]:
    """(event, id, data) of each message, parsed by a real SSE decoder."""
    text = data.decode() if isinstance(data, bytes) else data
    decoder, out = SSEDecoder(), []
    for line in text.splitlines():
        sse = decoder.decode(line)
        if sse is not None:
            out.append((sse.event, sse.id, sse.data))
    return out


def test_one_event_is_an_event_message() -> None:
    [(kind, seq, data)] = messages(SsePort(100).encode_events(events(7, 7)))
    assert (kind, seq) == ("event", "7")
    assert Event.model_validate_json(data) == events(7, 7)[0]


def test_several_events_are_events_frames_of_at_most_max_events() -> None:
    sent = events(1, 7)
    out = messages(SsePort(3).encode_events(sent))
    assert [(kind, seq) for kind, seq, _ in out] == [
        ("events", "3"),
        ("events", "6"),
        ("event", "7"),
    ]
    got: list[Event] = []
    for kind, _, data in out:
        if kind == "events":
            frame = SERVER_FRAME.validate_json(data)
            assert isinstance(frame, EventsFrame) and len(frame.events) <= 3
            got += frame.events
        else:
            got.append(Event.model_validate_json(data))
    assert got == sent


def test_stored_entries_are_sent_as_their_text() -> None:
    sent = events(1, 2)
    stored: list[StoredEntry] = [new_stored_entry((e.seq, e.epoch, e.to_json())) for e in sent]
    assert SsePort(100).encode_events(stored) == SsePort(100).encode_events(sent)
