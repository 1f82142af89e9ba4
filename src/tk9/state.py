"""``SessionState``: what a viewer sees — the projection of a session's event log.

The fold itself lives in :mod:`tk9.projection`; the same rules are mirrored in TypeScript in
``frontend/src/state/reducer.ts`` and tested against the shared fixtures.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tk9.events import (
    AgentName,
    AgentStatus,
    AgentWork,
    CoveragePayload,
    FileGeneratedPayload,
    LogLevel,
    RunStatus,
)


class AgentState(BaseModel):
    status: AgentStatus = AgentStatus.PENDING
    progress: int = 0
    message: str = ""
    started_at: float | None = None
    """Timestamp of the first event that set the agent running."""
    finished_at: float | None = None
    """Timestamp of the event that moved it to a final status."""
    work: AgentWork | None = None
    """What it worked on (the last ``work`` of its updates; see :class:`~tk9.events.AgentWork`)."""


class LogLine(BaseModel):
    seq: int
    timestamp: float
    level: LogLevel
    message: str
    agent: AgentName | None = None


class SessionState(BaseModel):
    """The snapshot: always all seven agents; ``seq`` is the last event folded in."""

    session_id: str
    subject: str = ""
    language: str = "en"
    created_at: float = 0.0
    status: RunStatus = RunStatus.PENDING
    progress: int = 0
    stage: str = ""
    error: str | None = None
    warnings: list[str] = Field(default_factory=list)
    """What a ``completed_with_warnings`` report lacks (from the terminal status)."""
    coverage: CoveragePayload | None = None
    """How well the evidence covers the subject (the last ``coverage`` event)."""
    agents: dict[AgentName, AgentState] = Field(
        default_factory=lambda: {name: AgentState() for name in AgentName}
    )
    files: list[FileGeneratedPayload] = Field(default_factory=list)
    logs: list[LogLine] = Field(default_factory=list)
    """The most recent log/error lines (at most ``MAX_LOG_LINES``)."""
    epoch: str = ""
    seq: int = 0


MAX_LOG_LINES = 500
