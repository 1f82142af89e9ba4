"""Typed event emission for one session, remembering each agent's last reported status.

Every agent reports only through this object, which appends to the event log; nothing is
inferred from output or guessed later. What it appends is folded by the real projection
(:func:`tk9.projection.apply`) into :attr:`Emitter.state`, so the Orchestrator closes a failed
or cancelled run (:func:`tk9.sessions.close_unfinished`) from the same state a viewer sees.

Two things are said on the agents' behalf so that a viewer can tell what happened when: while
the run is running, every overall progress step is also the Orchestrator's own progress (its
card follows the run instead of staying at 0 %), and each agent's start and end is a log line,
the end with how long it took. Every new message an agent reports while running is also logged
at ``debug`` level (hidden by the live log's default filter), so the agent's panel can show its
whole history from the log alone.
"""

from __future__ import annotations

import time

from tk9.errors import GapError
from tk9.events import (
    AgentName,
    AgentStatus,
    AgentUpdatePayload,
    AgentWork,
    CoveragePayload,
    ErrorPayload,
    FileGeneratedPayload,
    LogLevel,
    LogPayload,
    ResearchStatusPayload,
    RunStatus,
)
from tk9.log.base import EventLog, append_payload
from tk9.projection import FINAL_AGENT_STATUSES, apply, initial_state
from tk9.research.publish import WrittenFile
from tk9.sessions import SessionService
from tk9.state import SessionState
from tk9.storage import FileStore


def clip(text: str, limit: int = 4000) -> str:
    """Fit a message into an event's text field."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Emitter:
    """Appends a session's events and tracks what each agent last said."""

    def __init__(self, log: EventLog, session_id: str, files: FileStore | None = None) -> None:
        self.log = log
        self.session_id = session_id
        self.store = files
        """Where produced files are published before they are announced (None: the local
        outputs folder they are written to is where they are served from)."""
        self.state: SessionState = initial_state(session_id, "")
        """The projection of the session so far (re-read from the log when another writer
        appended in between)."""
        self.started: dict[AgentName, float] = {}
        """``time.monotonic()`` when each agent started running (for the durations logged)."""
        self.said: dict[AgentName, str] = {}
        """Each agent's last message, so that only a new one is logged."""
        self.progress = 0
        self.files: list[WrittenFile] = []
        self.warnings: list[str] = []
        """What the report lacks; any makes the run end ``completed_with_warnings``."""

    @property
    def agents(self) -> dict[AgentName, AgentStatus]:
        """Each agent's status, from :attr:`state`."""
        return {name: card.status for name, card in self.state.agents.items()}

    async def _append(self, payload: object) -> None:
        event = await append_payload(self.log, self.session_id, payload)
        try:
            self.state = apply(self.state, event)
        except GapError:  # another writer, or parallel appends resumed out of order
            again = await SessionService(self.log, "").state(self.session_id)
            if again.seq > self.state.seq:  # an apply may have landed while this one read
                self.state = again

    async def status(
        self,
        status: RunStatus,
        progress: int,
        stage: str = "",
        error: str | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.progress = max(0, min(100, progress))
        payload = ResearchStatusPayload(
            status=status,
            progress=self.progress,
            stage=clip(stage),
            error=clip(error) if error is not None else None,
            warnings=warnings or [],
        )
        await self._append(payload)
        orchestrator = AgentName.ORCHESTRATOR
        if status == RunStatus.RUNNING and self.agents[orchestrator] == AgentStatus.RUNNING:
            await self._update(orchestrator, AgentStatus.RUNNING, self.progress, stage)

    async def agent(
        self,
        agent: AgentName,
        status: AgentStatus,
        progress: int = 0,
        message: str = "",
        work: AgentWork | None = None,
    ) -> None:
        """Report an agent's status; ``work`` (what it worked on) goes on the same update."""
        if status == AgentStatus.COMPLETED:
            progress = 100
        before = self.agents[agent]
        await self._update(agent, status, progress, message, work)
        if before == AgentStatus.PENDING and status == AgentStatus.RUNNING:
            self.started[agent] = time.monotonic()
            await self.note(f"{agent.value} started", agent)
        elif before not in FINAL_AGENT_STATUSES and status in FINAL_AGENT_STATUSES:
            await self.note(self._ending(agent, status, message), agent)
        if status == AgentStatus.RUNNING and message and message != self.said.get(agent):
            await self.note(message, agent, LogLevel.DEBUG)
        self.said[agent] = message

    async def _update(
        self,
        agent: AgentName,
        status: AgentStatus,
        progress: int,
        message: str,
        work: AgentWork | None = None,
    ) -> None:
        payload = AgentUpdatePayload(
            agent=agent,
            status=status,
            progress=max(0, min(100, progress)),
            message=clip(message),
            work=work,
        )
        await self._append(payload)

    def _ending(self, agent: AgentName, status: AgentStatus, message: str) -> str:
        """``"Writer completed in 4.2 s: 5 sections…"``, ``"Translator skipped: …"``."""
        started = self.started.get(agent)
        took = f" in {time.monotonic() - started:.1f} s" if started is not None else ""
        why = f": {message}" if message else ""
        return f"{agent.value} {status.value}{took}{why}"

    async def note(
        self, message: str, agent: AgentName | None = None, level: LogLevel = LogLevel.INFO
    ) -> None:
        payload = LogPayload(level=level, message=clip(message), agent=agent)
        await self._append(payload)

    async def warn(self, message: str, agent: AgentName | None = None) -> None:
        """Record a shortcoming of the report (logged now, listed on the final status)."""
        self.warnings.append(clip(message))
        await self.note(message, agent, LogLevel.WARNING)

    async def coverage(self, payload: CoveragePayload) -> None:
        await self._append(payload)

    async def error(self, code: str, message: str, agent: AgentName | None = None) -> None:
        payload = ErrorPayload(code=code[:64], message=clip(message), agent=agent)
        await self._append(payload)

    async def file(self, written: WrittenFile, language: str) -> None:
        """Publish (:mod:`tk9.storage`), then announce, a file that
        :func:`~tk9.research.publish.write_atomic` has renamed in: a viewer never sees a file
        that a node cannot serve yet."""
        if self.store is not None:
            await self.store.publish(self.session_id, written.path)
        name = written.path.name
        payload = FileGeneratedPayload(
            name=name,
            kind=written.kind,
            language=language,
            size_bytes=written.size_bytes,
            sha256=written.sha256,
            path=f"/api/sessions/{self.session_id}/files/{name}",
        )
        self.files.append(written)
        await self._append(payload)
