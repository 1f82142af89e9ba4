"""The projection: a pure fold of a session's events into its :class:`SessionState`.

The event log is the only source of truth; everything a viewer sees is this fold of it. The
snapshot endpoint runs it on the server and the browser runs the same rules in TypeScript
(``frontend/src/state/reducer.ts``), tested against the JSON fixtures that
``scripts/export_fixtures.py`` writes to ``tests/fixtures/projection/``.

Pure and synchronous: no I/O, no clock (times come from ``event.timestamp``), and the input
state is never mutated — :func:`apply` returns a new state that shares every unchanged part with
the old one, so treat states as immutable values.

Stream rules (exactly-once application on top of at-least-once delivery):

* an event from another epoch than a non-empty ``state.epoch`` raises
  :class:`~tk9.errors.EpochMismatch` (checked first: seqs of two epochs are not comparable);
* ``seq <= state.seq`` is a duplicate and is ignored — the very same state object comes back;
* ``seq > state.seq + 1`` is a gap and raises :class:`~tk9.errors.GapError`; the driver resumes
  from its cursor instead;
* a payload that does not match its schema raises :class:`~tk9.errors.InvalidInput`;
* every applied event sets ``state.seq`` and ``state.epoch`` to its own, even when its content
  changes nothing else (an ignored out-of-date agent update still advances the cursor).

Content rules, per event type:

``research_status``
    Sets ``status``, ``progress`` and ``stage``. ``error`` takes the payload's error when one is
    given; otherwise it is cleared when the run is (again) ``pending``/``running`` — a resumed
    run shows no stale error — and kept when the status is terminal. ``warnings`` is replaced
    by the payload's (empty except on ``completed_with_warnings``).
``agent_update``
    Agent statuses only move forward: pending < running < final (completed, failed, skipped).
    An update that would move an agent backwards is ignored, and an agent in a final status is
    frozen (no later update changes it). Otherwise status, progress and message are replaced;
    ``completed`` forces progress 100; ``started_at`` is the timestamp of the first update that
    set the agent running (it stays ``None`` for an agent that never ran, e.g. skipped);
    ``finished_at`` is the timestamp of the update that made it final. ``work`` is replaced
    only by an update that carries one (the last one given stays).
``file_generated``
    Appended to ``files``; a file with the same ``name`` and ``language`` as an earlier entry
    replaces that entry in place, so a re-announcement never shows twice.
``coverage``
    Replaces ``coverage`` (the last measure wins).
``log`` / ``error``
    Appended to ``logs`` as a :class:`LogLine` (an error becomes level ``error`` with message
    ``"code: message"``); only the last ``MAX_LOG_LINES`` are kept. An ``error`` event does not
    change the run status: the Orchestrator's ``research_status`` does that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, assert_never

from pydantic import ValidationError

from tk9.errors import EpochMismatch, GapError, InvalidInput
from tk9.events import (
    AgentStatus,
    AgentUpdatePayload,
    CoveragePayload,
    ErrorPayload,
    Event,
    FileGeneratedPayload,
    LogLevel,
    LogPayload,
    ResearchStatusPayload,
    RunStatus,
)
from tk9.state import MAX_LOG_LINES, AgentState, LogLine, SessionState

__all__ = ["apply", "fold", "initial_state", "project"]

FINAL_AGENT_STATUSES = frozenset({AgentStatus.COMPLETED, AgentStatus.FAILED, AgentStatus.SKIPPED})

_AGENT_RANK: dict[AgentStatus, int] = {
    AgentStatus.PENDING: 0,
    AgentStatus.RUNNING: 1,
    AgentStatus.COMPLETED: 2,
    AgentStatus.FAILED: 2,
    AgentStatus.SKIPPED: 2,
}

_ACTIVE_RUN_STATUSES = frozenset({RunStatus.PENDING, RunStatus.RUNNING})


def initial_state(
    session_id: str,
    epoch: str,
    subject: str = "",
    language: str = "en",
    created_at: float = 0.0,
) -> SessionState:
    """The state of a session before its first event: all seven agents pending, ``seq`` 0.

    An empty ``epoch`` accepts the epoch of the first event applied.
    """
    return SessionState(
        session_id=session_id,
        epoch=epoch,
        subject=subject,
        language=language,
        created_at=created_at,
    )


def apply(state: SessionState, event: Event) -> SessionState:
    """Fold one event into ``state`` and return the new state (``state`` is left untouched).

    Returns ``state`` itself for a duplicate; raises ``EpochMismatch``, ``GapError`` or
    ``InvalidInput`` (see the module docstring) without changing anything.
    """
    if state.epoch and event.epoch != state.epoch:
        raise EpochMismatch(expected=state.epoch, got=event.epoch)
    if event.seq <= state.seq:
        return state
    if event.seq != state.seq + 1:
        raise GapError(expected=state.seq + 1, got=event.seq)
    try:
        payload = event.typed_payload()
    except ValidationError as exc:
        raise InvalidInput(
            f"invalid {event.event_type.value} payload at seq {event.seq}",
            seq=event.seq,
            errors=exc.errors(include_url=False, include_context=False),
        ) from exc

    changes: dict[str, Any]
    match payload:
        case ResearchStatusPayload():
            changes = _research_status(state, payload)
        case AgentUpdatePayload():
            changes = _agent_update(state, event, payload)
        case FileGeneratedPayload():
            changes = {"files": _with_file(state.files, payload)}
        case LogPayload():
            line = LogLine(
                seq=event.seq,
                timestamp=event.timestamp,
                level=payload.level,
                message=payload.message,
                agent=payload.agent,
            )
            changes = {"logs": _with_log(state.logs, line)}
        case ErrorPayload():
            line = LogLine(
                seq=event.seq,
                timestamp=event.timestamp,
                level=LogLevel.ERROR,
                message=f"{payload.code}: {payload.message}",
                agent=payload.agent,
            )
            changes = {"logs": _with_log(state.logs, line)}
        case CoveragePayload():
            changes = {"coverage": payload}
        case _:  # pragma: no cover - every payload model is handled above
            assert_never(payload)
    changes["seq"] = event.seq
    changes["epoch"] = event.epoch
    return state.model_copy(update=changes)


def fold(events: Iterable[Event], state: SessionState) -> SessionState:
    """Apply ``events`` in order to ``state`` (duplicates ignored, gaps raise)."""
    for event in events:
        state = apply(state, event)
    return state


def project(
    session_id: str, epoch: str, events: Iterable[Event], meta: Mapping[str, Any]
) -> SessionState:
    """Build a session's state from scratch: its stream ``meta`` and its events from seq 1.

    ``meta`` is the stream's metadata; ``subject``, ``language`` and ``created_at`` are read
    from it (missing keys take the :func:`initial_state` defaults).
    """
    start = initial_state(
        session_id,
        epoch,
        subject=str(meta.get("subject", "")),
        language=str(meta.get("language", "en")),
        created_at=float(meta.get("created_at", 0.0)),
    )
    return fold(events, start)


# --- per-type rules ------------------------------------------------------------------------


def _research_status(state: SessionState, payload: ResearchStatusPayload) -> dict[str, Any]:
    if payload.error is not None:
        error: str | None = payload.error
    elif payload.status in _ACTIVE_RUN_STATUSES:
        error = None
    else:
        error = state.error
    return {
        "status": payload.status,
        "progress": payload.progress,
        "stage": payload.stage,
        "error": error,
        "warnings": list(payload.warnings),
    }


def _agent_update(state: SessionState, event: Event, payload: AgentUpdatePayload) -> dict[str, Any]:
    current = state.agents[payload.agent]
    if (
        current.status in FINAL_AGENT_STATUSES
        or _AGENT_RANK[payload.status] < _AGENT_RANK[current.status]
    ):
        return {}
    started_at = current.started_at
    if payload.status is AgentStatus.RUNNING and started_at is None:
        started_at = event.timestamp
    final = payload.status in FINAL_AGENT_STATUSES
    agents = dict(state.agents)
    agents[payload.agent] = AgentState(
        status=payload.status,
        progress=100 if payload.status is AgentStatus.COMPLETED else payload.progress,
        message=payload.message,
        started_at=started_at,
        finished_at=event.timestamp if final else None,
        work=current.work if payload.work is None else payload.work,
    )
    return {"agents": agents}


def _with_file(
    files: list[FileGeneratedPayload], file: FileGeneratedPayload
) -> list[FileGeneratedPayload]:
    out = list(files)
    for index, existing in enumerate(out):
        if existing.name == file.name and existing.language == file.language:
            out[index] = file
            return out
    out.append(file)
    return out


def _with_log(logs: list[LogLine], line: LogLine) -> list[LogLine]:
    keep = MAX_LOG_LINES - 1
    head = logs[len(logs) - keep :] if len(logs) > keep else logs
    return [*head, line]
