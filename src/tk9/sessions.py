"""The sessions service: the one place that creates sessions and ends their runs.

The API, the ``tk9 research`` command, the in-process :class:`~tk9.research.runner.RunManager`
and the queue workers (:mod:`tk9.jobs`) all go through it, so a session is created with the
same metadata everywhere and a run is closed by the same rules whoever closes it:

* :meth:`SessionService.create` writes the stream with its listing metadata (subject,
  language, ``created_at``, status ``pending``, the owning node and the owning user);
* :meth:`SessionService.state` is the real projection (:func:`tk9.projection.fold`) of the
  whole log — nothing here keeps a private copy of the fold;
* :func:`close_unfinished` gives every agent without a final status one and then writes the
  terminal ``research_status``: the one rule for cancel, failure, shutdown, a crash found at
  start-up and a lapsed worker lease (:class:`Closing` says which);
* :meth:`SessionService.recover` runs when a node starts: of its own sessions a crash left
  unfinished, those that had *started* are closed ``interrupted``, and those that were only
  *queued* (never picked up) are handed back to be queued again;
* ownership: a session belongs to the node that created it (``meta.owner``); a node recovers
  only its own, so nodes sharing one Redis log never close each other's live runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from tk9.clock import Clock, SystemClock
from tk9.events import (
    AGENTS,
    TERMINAL_RUN_STATUSES,
    AgentName,
    AgentStatus,
    AgentUpdatePayload,
    RunStatus,
)
from tk9.log.base import EventLog, StreamInfo, append_payload
from tk9.projection import FINAL_AGENT_STATUSES, fold, initial_state
from tk9.state import SessionState

PAGE = 5000
"""Events per log read while projecting a whole session."""


class SessionSummary(BaseModel):
    """One row of the sessions listing (from the stream's metadata, no fold)."""

    session_id: str
    subject: str
    language: str
    status: RunStatus
    progress: int
    created_at: float
    warning_count: int = 0
    """How many warnings the final status lists (non-zero on ``completed_with_warnings``)."""


def summary(info: StreamInfo) -> SessionSummary:
    """A listing row from a stream's metadata (an unknown status reads as ``pending``)."""
    meta = info.meta
    try:
        status = RunStatus(meta.get("status", "pending"))
    except ValueError:
        status = RunStatus.PENDING
    return SessionSummary(
        session_id=info.session_id,
        subject=str(meta.get("subject", "")),
        language=str(meta.get("language", "en")),
        status=status,
        progress=int(meta.get("progress", 0) or 0),
        created_at=float(meta.get("created_at", info.created_at)),
        warning_count=int(meta.get("warning_count", 0) or 0),
    )


def owned_by(meta: Mapping[str, object], node_id: str) -> bool:
    """Whether a session's stream metadata says ``node_id`` owns it (no owner: any node)."""
    return meta.get("owner", node_id) == node_id


def is_terminal(meta: Mapping[str, object]) -> bool:
    """Whether the listing metadata already says the run ended (written after the log, so a
    terminal value there is final)."""
    return meta.get("status") in {s.value for s in TERMINAL_RUN_STATUSES}


# --- closing a run -----------------------------------------------------------------------------


class RunWriter(Protocol):
    """Where closing events go: the run's own :class:`~tk9.research.emitter.Emitter` (which
    also logs each agent's end) or :class:`LogWriter` for a run nobody is driving any more."""

    async def agent(
        self, agent: AgentName, status: AgentStatus, progress: int = 0, message: str = ""
    ) -> None: ...

    async def status(
        self, status: RunStatus, progress: int, stage: str = "", error: str | None = None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Closing:
    """How a run ends: the terminal status and what each unfinished agent becomes."""

    status: RunStatus
    running: AgentStatus
    """What an agent still ``running`` becomes (``failed``, or ``skipped`` on a cancel)."""
    running_message: str
    pending_message: str
    orchestrator: AgentStatus
    orchestrator_message: str
    stage: str
    error: str | None = None

    @classmethod
    def stopped(cls, status: RunStatus, reason: str) -> Closing:
        """Cancelled, or stopped by a shutdown of the process driving it: nothing failed."""
        words = reason[:1].upper() + reason[1:]
        return cls(
            status, AgentStatus.SKIPPED, words, words, AgentStatus.SKIPPED, words, words, None
        )

    @classmethod
    def failed(cls, where: str, message: str) -> Closing:
        """An agent failed (``where`` = ``"Writer failed: "`` or empty when unknown)."""
        skipped = f"Skipped: {where.rstrip(': ')}"
        return cls(
            RunStatus.FAILED,
            AgentStatus.FAILED,
            message,
            skipped,
            AgentStatus.FAILED,
            where + message,
            "Failed",
            where + message,
        )

    @classmethod
    def interrupted(cls, error: str, step: str) -> Closing:
        """Nobody drives the run any more (a crash, a lapsed lease): the step in progress
        failed because of ``step``; the rest never ran."""
        return cls(
            RunStatus.INTERRUPTED,
            AgentStatus.FAILED,
            f"Interrupted: {step}",
            "Interrupted",
            AgentStatus.FAILED,
            f"Interrupted: {error}",
            "Interrupted",
            error,
        )


async def close_unfinished(
    writer: RunWriter, agents: Mapping[AgentName, AgentStatus], progress: int, closing: Closing
) -> None:
    """Give every agent without a final status one, then the Orchestrator, then write the
    terminal status at ``progress``. ``agents`` comes from the projection."""
    for agent in AGENTS:
        if agent == AgentName.ORCHESTRATOR:
            continue
        current = agents[agent]
        if current == AgentStatus.RUNNING:
            await writer.agent(agent, closing.running, 0, closing.running_message)
        elif current == AgentStatus.PENDING:
            await writer.agent(agent, AgentStatus.SKIPPED, 0, closing.pending_message)
    if agents[AgentName.ORCHESTRATOR] not in FINAL_AGENT_STATUSES:
        await writer.agent(
            AgentName.ORCHESTRATOR, closing.orchestrator, progress, closing.orchestrator_message
        )
    await writer.status(closing.status, progress, closing.stage, error=closing.error)


@dataclass(slots=True)
class LogWriter:
    """A :class:`RunWriter` that appends straight to the log (no run drives the session)."""

    log: EventLog
    session_id: str

    async def agent(
        self, agent: AgentName, status: AgentStatus, progress: int = 0, message: str = ""
    ) -> None:
        payload = AgentUpdatePayload(agent=agent, status=status, progress=progress, message=message)
        await append_payload(self.log, self.session_id, payload)

    async def status(
        self, status: RunStatus, progress: int, stage: str = "", error: str | None = None
    ) -> None:
        from tk9.events import ResearchStatusPayload

        payload = ResearchStatusPayload(status=status, progress=progress, stage=stage, error=error)
        await append_payload(self.log, self.session_id, payload)


def agent_statuses(state: SessionState) -> dict[AgentName, AgentStatus]:
    return {name: card.status for name, card in state.agents.items()}


def never_started(state: SessionState) -> bool:
    """Queued only: no ``running`` status and no agent ever moved (safe to queue again)."""
    return state.status == RunStatus.PENDING and all(
        card.status == AgentStatus.PENDING for card in state.agents.values()
    )


CRASH = Closing.interrupted(
    "the server stopped while this run was in progress", "the server stopped during this step"
)


@dataclass(slots=True)
class Recovery:
    """What :meth:`SessionService.recover` did: closed runs, and queued runs to start again."""

    interrupted: list[str] = field(default_factory=list)
    requeue: list[tuple[str, str, str]] = field(default_factory=list)
    """``(session_id, subject, language)`` of runs that were only queued."""


class SessionService:
    """Creates sessions and ends their runs; see the module docstring."""

    def __init__(self, log: EventLog, node_id: str, clock: Clock | None = None) -> None:
        self.log = log
        self.node_id = node_id
        self.clock = clock or SystemClock()

    async def create(
        self, session_id: str, subject: str, language: str, extra: Mapping[str, Any] = {}
    ) -> StreamInfo:
        """A new stream with its listing metadata; ``extra`` adds e.g. the owning user."""
        meta: dict[str, Any] = {
            "subject": subject,
            "language": language,
            "created_at": self.clock.wall(),
            "status": RunStatus.PENDING.value,
            "progress": 0,
            "owner": self.node_id,
            **extra,
        }
        return await self.log.create(session_id, meta)

    async def state(self, session_id: str) -> SessionState:
        """The projection of the whole log (raises ``SessionNotFound`` for an unknown id)."""
        info = await self.log.info(session_id)
        meta = info.meta
        state = initial_state(
            session_id,
            info.epoch,
            subject=str(meta.get("subject", "")),
            language=str(meta.get("language", "en")),
            created_at=float(meta.get("created_at", info.created_at)),
        )
        state = state.model_copy(update={"seq": info.first_seq - 1})
        while True:
            batch = await self.log.read(session_id, state.seq, PAGE)
            if not batch:
                return state
            state = fold(batch, state)

    async def record(self, state: SessionState) -> None:
        """Copy the outcome into the listing metadata (after the log, so it is final)."""
        await self.log.update_meta(
            state.session_id,
            {
                "status": state.status.value,
                "progress": state.progress,
                "warning_count": len(state.warnings),
            },
        )

    async def close(self, session_id: str, closing: Closing) -> bool:
        """End a run nobody drives any more; False (nothing written) if it had ended."""
        state = await self.state(session_id)
        if state.status in TERMINAL_RUN_STATUSES:
            return False
        writer = LogWriter(self.log, session_id)
        await close_unfinished(writer, agent_statuses(state), state.progress, closing)
        await self.log.update_meta(
            session_id, {"status": closing.status.value, "progress": state.progress}
        )
        return True

    async def recover(self, live: set[str] | frozenset[str] = frozenset()) -> Recovery:
        """On start: close this node's runs a crash left running, hand back the queued ones.

        Sessions in ``live`` (runs this process drives) and other nodes' sessions are left
        alone. A session whose fold shows it never started is returned in ``requeue`` (its
        stream is untouched); any other unfinished one is closed ``interrupted``.
        """
        done = Recovery()
        for info in await self.log.list_streams():
            sid = info.session_id
            if sid in live or not owned_by(info.meta, self.node_id) or is_terminal(info.meta):
                continue
            state = await self.state(sid)
            if state.status in TERMINAL_RUN_STATUSES:
                continue
            if never_started(state):
                done.requeue.append((sid, state.subject, state.language))
                continue
            writer = LogWriter(self.log, sid)
            await close_unfinished(writer, agent_statuses(state), state.progress, CRASH)
            done.interrupted.append(sid)
        return done
