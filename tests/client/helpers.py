"""Builders shared by the client tests."""

from __future__ import annotations

from tk9.events import Event, EventType
from tk9.state import SessionState

EPOCH = "epoch-a"
SESSION = "00000000-0000-4000-8000-000000000001"


def log_event(seq: int, epoch: str = EPOCH, message: str = "") -> Event:
    """A ``log`` event with the given seq."""
    return Event(
        seq=seq,
        epoch=epoch,
        timestamp=1_700_000_000.0 + seq,
        event_type=EventType.LOG,
        payload={"level": "info", "message": message or f"line {seq}", "agent": None},
    )


def status_event(seq: int, status: str, epoch: str = EPOCH) -> Event:
    """A ``research_status`` event."""
    return Event(
        seq=seq,
        epoch=epoch,
        timestamp=1_700_000_000.0 + seq,
        event_type=EventType.RESEARCH_STATUS,
        payload={"status": status, "progress": 100 if status == "completed" else 50, "stage": ""},
    )


def snapshot(seq: int, epoch: str = EPOCH, status: str = "running") -> SessionState:
    """A snapshot standing at ``seq``."""
    return SessionState.model_validate(
        {"session_id": SESSION, "epoch": epoch, "seq": seq, "status": status}
    )
