"""The transport ladder against the scripted scenarios the browser's ladder replays too.

Each ``tests/fixtures/ladder/*.json`` is a list of inputs with the time they happen and the
actions (and, where given, the next deadline and the transport) that must follow. The same
files run in ``frontend/tests/ladder.test.ts``, so the two implementations cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tk9.protocol.ladder import (
    Connect,
    DropProbe,
    GiveUp,
    Ladder,
    LadderAction,
    LadderPolicy,
    Probe,
    Promote,
    Wait,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ladder"
FILES = sorted(FIXTURES.glob("*.json"))


def as_json(action: LadderAction) -> dict[str, Any]:
    match action:
        case Connect():
            return {"type": "connect", "transport": action.transport, "reason": action.reason}
        case Wait():
            return {"type": "wait", "until": round(action.until, 9)}
        case GiveUp():
            return {"type": "give_up", "close_code": action.close_code}
        case Probe():
            return {"type": "probe"}
        case Promote():
            return {"type": "promote"}
        case DropProbe():
            return {"type": "drop_probe"}


def feed(ladder: Ladder, now: float, step: dict[str, Any]) -> list[LadderAction]:
    kind = step["type"]
    if kind == "closed":
        return ladder.closed(now, step["code"], refused=step.get("refused", False))
    if kind == "use":
        return ladder.use(now, step["transport"])
    method = {
        "start": ladder.start,
        "opened": ladder.opened,
        "stale": ladder.stale,
        "resume": ladder.resume,
        "wake": ladder.wake,
        "probe_opened": ladder.probe_opened,
        "probe_failed": ladder.probe_failed,
        "tick": ladder.tick,
    }[kind]
    return method(now)


def test_there_are_fixtures() -> None:
    assert len(FILES) >= 10


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_fixture(path: Path) -> None:
    fixture = json.loads(path.read_text())
    assert fixture["name"] == path.stem
    value = fixture["random"]
    ladder = Ladder(fixture["preference"], LadderPolicy(**fixture["policy"]), random=lambda: value)
    for index, step in enumerate(fixture["steps"]):
        where = f"step {index} ({step['input']['type']} at {step['at']})"
        actions = [as_json(a) for a in feed(ladder, step["at"], step["input"])]
        expected = [
            {**a, "until": round(a["until"], 9)} if "until" in a else a for a in step["expect"]
        ]
        assert actions == expected, where
        if "deadline" in step:
            deadline = ladder.deadline()
            assert (None if deadline is None else round(deadline, 9)) == step["deadline"], where
        if "transport" in step:
            assert ladder.transport == step["transport"], where


def test_bad_policy_and_preference_are_refused() -> None:
    with pytest.raises(ValueError):
        LadderPolicy(backoff_base=0)
    with pytest.raises(ValueError):
        LadderPolicy(ws_failures_before_fallback=0)
    with pytest.raises(ValueError):
        Ladder("carrier-pigeon", random=lambda: 0.5)  # type: ignore[arg-type]
