"""The Orchestrator: runs one research session end to end, and the manager of all runs.

:func:`run_research` always ends a run with exactly one terminal ``research_status``:

* ``completed`` when every agent finished (the Translator may be ``skipped``);
* ``failed`` with the error when an agent failed — that agent is marked ``failed`` and the
  agents after it ``skipped``; research failures are reported, never raised;
* ``cancelled`` when the ``cancel`` event is set or the task is cancelled — unfinished agents
  are marked ``skipped`` ("cancelled"); the task's ``CancelledError`` is re-raised after the
  events are written;
* ``interrupted`` when :class:`RunManager` stops the run for a server shutdown, or on the next
  start for runs a crash left non-terminal (:meth:`RunManager.mark_interrupted`; runs that were
  only queued are queued again instead).

Every unfinished run is closed by :func:`tk9.sessions.close_unfinished` from the projected
state, whoever closes it.

An unexpected exception (a bug) is also closed as ``failed`` ("internal error") so no viewer
waits forever, and then propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from pathlib import Path

import httpx

from tk9.clock import Clock, SystemClock
from tk9.errors import Conflict, Tk9Error
from tk9.events import AgentName, AgentStatus, RunStatus
from tk9.log.base import EventLog
from tk9.research.emitter import Emitter
from tk9.research.engine import Engine
from tk9.research.extractive import ExtractiveEngine
from tk9.research.pipeline import Pipeline
from tk9.research.retrieval import open_retriever
from tk9.research.text import counted
from tk9.research.translate import Translator
from tk9.sessions import Closing, SessionService, close_unfinished, owned_by
from tk9.settings import Settings
from tk9.storage import make_file_store

__all__ = ["RunManager", "build_engine", "owned_by", "run_research"]


def build_engine(
    settings: Settings, emit: Emitter | None = None
) -> tuple[Engine, Translator | None]:
    """The configured engine, and the LLM translator when an LLM is configured; ``emit``
    lets the LLM engine show streaming progress and its fallbacks on the agent cards."""
    if settings.engine == "llm":
        from tk9.research.llm import LLMEngine

        engine = LLMEngine.from_settings(settings, reporter=emit)
        return engine, engine
    return ExtractiveEngine(), None


def _failure_message(exc: BaseException) -> str:
    """The first real error inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "disk full: no space left to write the report"  # no server path in the message
    if isinstance(exc, Tk9Error):
        return exc.message
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _is_research_failure(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_research_failure(e) for e in exc.exceptions)
    return isinstance(exc, Tk9Error | OSError | httpx.HTTPError | TimeoutError | ValueError)


async def run_research(
    log: EventLog,
    session_id: str,
    subject: str,
    language: str,
    settings: Settings,
    output_dir: Path,
    cancel: asyncio.Event | None = None,
    *,
    stop_status: list[RunStatus] | None = None,
    stop_reason: str = "interrupted by a server shutdown",
) -> RunStatus:
    """Run the seven agents for a session whose stream already exists; see the module doc.

    ``stop_status`` (internal, used by :class:`RunManager` and the queue worker) holds the
    status a task cancellation ends with — ``cancelled`` unless the manager is shutting down;
    ``stop_reason`` says why an ``interrupted`` run stopped.
    """
    emit = Emitter(log, session_id, make_file_store(settings))
    await emit.status(RunStatus.RUNNING, 0, "Starting")
    await emit.agent(AgentName.ORCHESTRATOR, AgentStatus.RUNNING, 0, "Starting the agents")
    work = asyncio.create_task(_work(emit, subject, language, settings, output_dir))
    waiter = asyncio.create_task(cancel.wait()) if cancel is not None else None
    try:
        await asyncio.wait(
            [t for t in (work, waiter) if t is not None], return_when="FIRST_COMPLETED"
        )
    except asyncio.CancelledError:
        work.cancel()
        with contextlib.suppress(BaseException):
            await work
        status = stop_status[0] if stop_status else RunStatus.CANCELLED
        await close_stopped(emit, status, stop_reason)
        raise
    finally:
        if waiter is not None:
            waiter.cancel()
    if not work.done():  # the cancel event fired first
        work.cancel()
        with contextlib.suppress(BaseException):
            await work
        status = stop_status[0] if stop_status else RunStatus.CANCELLED
        await close_stopped(emit, status, stop_reason)
        return status
    exc = work.exception() if not work.cancelled() else None
    if work.cancelled():
        await close_stopped(emit, RunStatus.CANCELLED)
        return RunStatus.CANCELLED
    if exc is None:
        if emit.warnings:
            count = len(emit.warnings)
            await emit.agent(
                AgentName.ORCHESTRATOR,
                AgentStatus.COMPLETED,
                100,
                f"Report published with {counted(count, 'warning')}",
            )
            await emit.status(
                RunStatus.COMPLETED_WITH_WARNINGS,
                100,
                f"Done, with {counted(count, 'warning')}",
                warnings=emit.warnings,
            )
            return RunStatus.COMPLETED_WITH_WARNINGS
        await emit.agent(AgentName.ORCHESTRATOR, AgentStatus.COMPLETED, 100, "Report published")
        await emit.status(RunStatus.COMPLETED, 100, "Done")
        return RunStatus.COMPLETED
    research_failure = _is_research_failure(exc)
    message = _failure_message(exc)
    if not research_failure:
        message = f"internal error: {message}"
    failed_agent = next(
        (
            a
            for a, s in emit.agents.items()
            if s == AgentStatus.RUNNING and a != AgentName.ORCHESTRATOR
        ),
        None,
    )
    where = f"{failed_agent.value} failed: " if failed_agent else ""
    await emit.error("research_failed", where + message, failed_agent)
    await close_unfinished(emit, emit.agents, emit.progress, Closing.failed(where, message))
    if not research_failure:
        raise exc
    return RunStatus.FAILED


async def _work(
    emit: Emitter, subject: str, language: str, settings: Settings, output_dir: Path
) -> None:
    engine, llm_translator = build_engine(settings, emit)
    await emit.agent(AgentName.BROWSER, AgentStatus.RUNNING, 0, "Indexing the corpus")

    async def embedding(done: int, total: int) -> None:
        if total:
            message = f"Embedding {done:,}/{total:,} passages"
            await emit.agent(AgentName.BROWSER, AgentStatus.RUNNING, 0, message)

    retriever = await open_retriever(settings, embedding)
    try:
        await Pipeline(
            emit=emit,
            subject=subject,
            language=language,
            output_dir=output_dir,
            engine=engine,
            retriever=retriever,
            max_sections=settings.max_sections,
            llm_translator=llm_translator,
        ).run()
    finally:
        retriever.close()


async def close_stopped(
    emit: Emitter, status: RunStatus, reason: str = "interrupted by a server shutdown"
) -> None:
    """Close a run stopped on purpose: ``cancelled``, or ``interrupted`` for ``reason``."""
    words = "cancelled" if status == RunStatus.CANCELLED else reason
    await close_unfinished(emit, emit.agents, emit.progress, Closing.stopped(status, words))


class _Run:
    def __init__(self) -> None:
        self.cancel = asyncio.Event()
        self.stop = [RunStatus.CANCELLED]
        self.started = False
        """Set once the run holds a slot (before that it is queued as ``pending``)."""
        self.task: asyncio.Task[RunStatus] | None = None


class RunManager:
    """Owns the runs of this process: a concurrency limit, cancel, shutdown, crash recovery.

    Runs beyond ``settings.max_concurrent_runs`` wait with status ``pending`` until a slot
    frees. Outputs go to ``settings.outputs_dir / session_id``.
    """

    def __init__(self, log: EventLog, settings: Settings, clock: Clock | None = None) -> None:
        self._log = log
        self._settings = settings
        self._clock = clock or SystemClock()
        self.sessions = SessionService(log, settings.node_id, self._clock)
        self._slots = asyncio.Semaphore(settings.max_concurrent_runs)
        self._runs: dict[str, _Run] = {}

    def active(self) -> list[str]:
        """Sessions with a run in progress or waiting for a slot."""
        return [sid for sid, run in self._runs.items() if run.task and not run.task.done()]

    def start(self, session_id: str, subject: str, language: str) -> asyncio.Task[RunStatus]:
        """Schedule a run for an existing session stream; raises ``Conflict`` if one is live."""
        if session_id in self.active():
            raise Conflict(f"session {session_id} already has a run in progress")
        run = _Run()
        run.task = asyncio.create_task(
            self._drive(run, session_id, subject, language), name=f"research-{session_id}"
        )
        self._runs[session_id] = run
        run.task.add_done_callback(lambda _t: self._forget(session_id, run))
        return run.task

    def _forget(self, session_id: str, run: _Run) -> None:
        if self._runs.get(session_id) is run:
            del self._runs[session_id]

    async def _drive(self, run: _Run, session_id: str, subject: str, language: str) -> RunStatus:
        emit = Emitter(self._log, session_id)
        waiting = len(self.active()) - 1
        stage = (
            "Queued"
            if waiting < self._settings.max_concurrent_runs
            else (
                f"Waiting for a free slot ({self._settings.max_concurrent_runs} runs in progress)"
            )
        )
        await emit.status(RunStatus.PENDING, 0, stage)
        try:
            got_slot = await self._acquire(run)
        except asyncio.CancelledError:
            await close_stopped(emit, run.stop[0])
            raise
        if not got_slot:  # cancelled or shut down while queued
            await close_stopped(emit, run.stop[0])
            return run.stop[0]
        try:
            run.started = True
            output_dir = self._settings.outputs_dir / session_id
            return await run_research(
                self._log,
                session_id,
                subject,
                language,
                self._settings,
                output_dir,
                run.cancel,
                stop_status=run.stop,
            )
        finally:
            self._slots.release()

    async def _acquire(self, run: _Run) -> bool:
        """Wait for a run slot or the run's cancel event; True when a slot was taken."""
        acquire = asyncio.ensure_future(self._slots.acquire())
        stop = asyncio.ensure_future(run.cancel.wait())
        try:
            await asyncio.wait({acquire, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not acquire.done():
                acquire.cancel()
            got = acquire.done() and not acquire.cancelled() and acquire.exception() is None
            if got and run.cancel.is_set():
                self._slots.release()
                got = False
        return got

    async def cancel(self, session_id: str) -> bool:
        """Ask a live or queued run to stop (it ends ``cancelled``); False when there is none."""
        run = self._runs.get(session_id)
        if run is None or run.task is None or run.task.done():
            return False
        run.cancel.set()
        return True

    async def wait(self, session_id: str) -> RunStatus | None:
        """Wait for a live run to end; None when there is none (tests, CLI)."""
        run = self._runs.get(session_id)
        if run is None or run.task is None:
            return None
        try:
            return await asyncio.shield(run.task)
        except asyncio.CancelledError:
            if run.task.cancelled():
                return run.stop[0]
            raise

    async def shutdown(self) -> None:
        """Stop every run, queued or live; each ends ``interrupted`` (the server is going
        away) once its events are written."""
        tasks = []
        for run in list(self._runs.values()):
            if run.task is not None and not run.task.done():
                run.stop[0] = RunStatus.INTERRUPTED
                run.cancel.set()
                tasks.append(run.task)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def mark_interrupted(self) -> list[str]:
        """On server start: recover the runs a crash left non-terminal; returns the ids of
        those closed ``interrupted``.

        Only this node's sessions are touched (:meth:`tk9.sessions.SessionService.recover`):
        a run that had started is closed — running agents ``failed`` ("interrupted"), pending
        ones ``skipped``, the Orchestrator ``failed``, then ``research_status: interrupted`` at
        its last progress; a run that was only queued is queued again here.
        """
        recovery = await self.sessions.recover(set(self.active()))
        for session_id, subject, language in recovery.requeue:
            self.start(session_id, subject, language)
        return recovery.interrupted
