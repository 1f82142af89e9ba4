"""The follower's cursor, ack and stale rules against the scenarios the browser replays too.

Each ``tests/fixtures/follower/*.json`` is a list of inputs with the time they happen and the
actions (and, where given, the cursor, head, duplicates and next deadline) that must follow.
The same files run in ``frontend/tests/follower.test.ts`` against the TypeScript follower of
``frontend/src/transport/follower.ts``, so the two cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tk9.events import Event, EventType, RunStatus
from tk9.protocol.follower import (
    Action,
    Apply,
    Follower,
    FollowerPolicy,
    Replace,
    Resume,
    SendAck,
    SendPong,
)
from tk9.protocol.messages import EventFrame, EventsFrame, EventsPage, Hello, Reset, ServerPing
from tk9.state import SessionState

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "follower"
FILES = sorted(FIXTURES.glob("*.json"))


def event(spec: dict[str, Any]) -> Event:
    status = spec.get("status")
    return Event(
        seq=spec["seq"],
        epoch=spec["epoch"],
        timestamp=0.0,
        event_type=EventType.RESEARCH_STATUS if status else EventType.LOG,
        payload={"status": status} if status else {},
    )


def snapshot(spec: dict[str, Any]) -> SessionState:
    return SessionState(
        session_id="s1", epoch=spec["epoch"], seq=spec["seq"], status=RunStatus(spec["status"])
    )


def as_json(action: Action) -> dict[str, Any]:
    match action:
        case Apply():
            return {"type": "apply", "seq": action.event.seq}
        case Replace():
            return {"type": "replace", "seq": action.snapshot.seq}
        case SendPong():
            return {"type": "pong", "ts": action.ts}
        case SendAck():
            return {"type": "ack", "seq": action.seq}
        case Resume():
            return {"type": "resume", "reason": action.reason}


def feed(follower: Follower, now: float, step: dict[str, Any]) -> list[Action]:
    kind = step["type"]
    if kind == "connect":
        follower.on_connect(now)
        return []
    if kind == "alive":
        follower.on_alive(now)
        return []
    if kind == "close":
        follower.on_close(step["code"])  # the reconnect decision is the ladder's fixtures' job
        return []
    if kind == "tick":
        return follower.tick(now)
    if kind == "ack_now":
        ack = follower.ack_now(now)
        return [] if ack is None else [ack]
    if kind == "page":
        page = EventsPage(
            session_id="s1",
            epoch=step["epoch"],
            head=step["head"],
            events=[event(e) for e in step["events"]],
            reset=snapshot(step["reset"]) if step.get("reset") else None,
        )
        return follower.on_page(page, now)
    frame: Hello | EventFrame | EventsFrame | Reset | ServerPing
    if kind == "hello":
        frame = Hello(
            session_id="s1",
            epoch=step["epoch"],
            head=step["head"],
            resume_from=0,
            heartbeat_interval=step["heartbeat_interval"],
            heartbeat_timeout=step["heartbeat_timeout"],
        )
    elif kind == "event":
        frame = EventFrame(event=event(step))
    elif kind == "events":
        frame = EventsFrame(events=[event(e) for e in step["events"]])
    elif kind == "reset":
        frame = Reset(reason="unknown_epoch", snapshot=snapshot(step))
    elif kind == "ping":
        frame = ServerPing(ts=step["ts"])
    else:
        raise AssertionError(f"unknown input {kind}")
    return follower.on_frame(frame, now)


def test_there_are_fixtures() -> None:
    assert len(FILES) >= 6


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_fixture(path: Path) -> None:
    fixture = json.loads(path.read_text())
    assert fixture["name"] == path.stem
    follower = Follower(
        after=fixture["after"],
        epoch=fixture["epoch"],
        policy=FollowerPolicy(**fixture["policy"]),
        random=lambda: 0.5,
    )
    for index, step in enumerate(fixture["steps"]):
        now = step["at"]
        where = f"step {index} ({step['input']['type']} at {now})"
        assert [as_json(a) for a in feed(follower, now, step["input"])] == step["expect"], where
        if "cursor" in step:
            cursor = follower.cursor
            assert {"seq": cursor.seq, "epoch": cursor.epoch} == step["cursor"], where
        if "head" in step:
            assert follower.head == step["head"], where
        if "finished" in step:
            assert follower.finished is step["finished"], where
        if "duplicates" in step:
            assert follower.duplicates == step["duplicates"], where
        if "deadline" in step:
            assert round(follower.next_deadline(now), 9) == step["deadline"], where
