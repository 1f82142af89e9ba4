"""``Event.from_stored``: the replay path's events are the events, with their JSON pre-built."""

from __future__ import annotations

import json

import pytest

from tk9.events import Event, EventType
from tk9.log.base import encode_json

PAYLOADS = [
    {"level": "info", "message": "plain", "agent": None},
    {"level": "warning", "message": 'quotes " \\ and\nnew\r\nlines \u2028 é 🙂 \x01', "agent": "a"},
    {"nested": {"list": [1, 2.5, -3e-7, True, None, "x"]}, "big": 12345678901234567890},
]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("ts", [1796199164.9857314, 1.0, 0.1])
def test_from_stored_equals_the_constructed_event(payload: dict[str, object], ts: float) -> None:
    built = Event.model_construct(
        seq=42, epoch="3d5e611a5ee94262", timestamp=ts, event_type=EventType.LOG, payload=payload
    )
    stored = Event.from_stored(42, "3d5e611a5ee94262", ts, EventType.LOG, encode_json(payload))
    assert stored == built
    assert stored.model_dump() == built.model_dump()
    assert json.loads(stored.to_json()) == json.loads(built.model_dump_json())
    assert "\n" not in stored.to_json() and "\r" not in stored.to_json()  # one SSE data line
    assert stored.model_copy(update={"seq": 43}).seq == 43


def test_the_cached_text_is_not_part_of_equality() -> None:
    a = Event.model_construct(
        seq=1, epoch="e", timestamp=1.5, event_type=EventType.LOG, payload={"m": 1}
    )
    b = Event.model_construct(
        seq=1, epoch="e", timestamp=1.5, event_type=EventType.LOG, payload={"m": 1}
    )
    a.to_json()
    assert a == b and a.to_json() is a.to_json()
    assert a != Event.from_stored(2, "e", 1.5, EventType.LOG, '{"m":1}')
