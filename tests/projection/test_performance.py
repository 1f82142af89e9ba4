"""Folding is linear: 10,000 events fold well under a second (no O(n²) list copies)."""

from __future__ import annotations

import time

from tk9.events import (
    AgentName,
    AgentStatus,
    AgentUpdatePayload,
    ErrorPayload,
    Event,
    FileGeneratedPayload,
    FileKind,
    LogPayload,
    Payload,
    ResearchStatusPayload,
    RunStatus,
    event_type_of,
)
from tk9.projection import fold, initial_state
from tk9.state import MAX_LOG_LINES

N = 10_000


def busy_log(n: int = N) -> list[Event]:
    """A long run: mostly logs and agent progress, some status, files and errors."""
    agents = list(AgentName)
    events = []
    for seq in range(1, n + 1):
        payload: Payload
        match seq % 10:
            case 0:
                payload = ResearchStatusPayload(status=RunStatus.RUNNING, progress=seq * 100 // n)
            case 1 | 2 | 3:
                payload = AgentUpdatePayload(
                    agent=agents[seq % 7], status=AgentStatus.RUNNING, progress=seq % 100
                )
            case 4:
                name = f"part{(seq // 10) % 40}.md"
                payload = FileGeneratedPayload(
                    name=name,
                    kind=FileKind.MD,
                    language="en",
                    size_bytes=seq,
                    sha256="0" * 64,
                    path=f"/f/{name}",
                )
            case 5:
                payload = ErrorPayload(code="timeout", message=f"source {seq}")
            case _:
                payload = LogPayload(message=f"line {seq}", agent=agents[seq % 7])
        events.append(
            Event(
                seq=seq,
                epoch="e",
                timestamp=float(seq),
                event_type=event_type_of(payload),
                payload=payload.model_dump(mode="json"),
            )
        )
    return events


def test_folding_10000_events_takes_well_under_a_second() -> None:
    log = busy_log()
    best = float("inf")
    for _ in range(3):  # best of three: the machine is shared
        start = time.perf_counter()
        state = fold(log, initial_state("s", "e"))
        best = min(best, time.perf_counter() - start)
    assert state.seq == N and len(state.logs) == MAX_LOG_LINES and len(state.files) == 40
    assert best < 1.0, f"folding {N} events took {best:.3f}s"
