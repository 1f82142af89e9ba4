"""The scripted demo producer — clearly not research.

Used when ``TK9_DEMO_PRODUCER=1`` (development, fault-injection tests, benchmarks): it walks the
seven agents through a deterministic run, writes two small Markdown files, and optionally
emits ``demo_events`` extra log lines, one every ``demo_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from tk9.events import (
    AGENTS,
    AgentName,
    AgentStatus,
    AgentUpdatePayload,
    FileGeneratedPayload,
    FileKind,
    LogPayload,
    ResearchStatusPayload,
    RunStatus,
)
from tk9.log.base import EventLog, append_payload
from tk9.sessions import Closing, SessionService
from tk9.settings import Settings
from tk9.storage import make_file_store


class DemoRuns:
    """Implements the server's ``Runs`` interface with the scripted producer."""

    def __init__(self, log: EventLog, settings: Settings) -> None:
        self._log = log
        self._settings = settings
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.sessions = SessionService(log, settings.node_id)

    def start(self, session_id: str, subject: str, language: str) -> asyncio.Task[None]:
        task = asyncio.create_task(self._run(session_id, subject, language))
        self._tasks[session_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(session_id, None))
        return task

    async def cancel(self, session_id: str) -> bool:
        task = self._tasks.get(session_id)
        if task is None:
            return False
        task.cancel()
        return True

    def active(self) -> list[str]:
        return list(self._tasks)

    async def mark_interrupted(self) -> list[str]:
        """Close this node's runs a restart left unfinished; queued-only ones run again."""
        recovery = await self.sessions.recover(set(self._tasks))
        for session_id, subject, language in recovery.requeue:
            self.start(session_id, subject, language)
        return recovery.interrupted

    async def shutdown(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _emit(self, session_id: str, payload: object) -> None:
        await append_payload(self._log, session_id, payload)
        if self._settings.demo_interval:
            await asyncio.sleep(self._settings.demo_interval)

    async def _run(self, session_id: str, subject: str, language: str) -> None:
        try:
            await self.play(session_id, subject, language)
        except asyncio.CancelledError:
            await self.sessions.close(session_id, Closing.stopped(RunStatus.CANCELLED, "cancelled"))
            raise

    async def play(self, session_id: str, subject: str, language: str) -> None:
        """The scripted run itself, from ``running`` to ``completed``."""
        emit = self._emit
        await emit(
            session_id,
            ResearchStatusPayload(status=RunStatus.RUNNING, progress=0, stage="demo"),
        )
        steps = [a for a in AGENTS if a is not AgentName.ORCHESTRATOR]
        await emit(
            session_id,
            AgentUpdatePayload(
                agent=AgentName.ORCHESTRATOR, status=AgentStatus.RUNNING, message="demo run"
            ),
        )
        for i in range(self._settings.demo_events):
            await emit(session_id, LogPayload(message=f"demo event {i + 1}"))
        for index, agent in enumerate(steps, start=1):
            if agent is AgentName.TRANSLATOR and language == "en":
                await emit(
                    session_id,
                    AgentUpdatePayload(
                        agent=agent, status=AgentStatus.SKIPPED, message="source language"
                    ),
                )
                continue
            await emit(
                session_id,
                AgentUpdatePayload(
                    agent=agent,
                    status=AgentStatus.RUNNING,
                    progress=10,
                    message=f"{agent.value} working on {subject[:60]}",
                ),
            )
            await emit(
                session_id,
                AgentUpdatePayload(
                    agent=agent, status=AgentStatus.RUNNING, progress=60, message="half way"
                ),
            )
            if agent in (AgentName.PUBLISHER, AgentName.TRANSLATOR):
                lang = "en" if agent is AgentName.PUBLISHER else language
                await emit(session_id, await self._write_file(session_id, lang, subject))
            await emit(
                session_id,
                AgentUpdatePayload(
                    agent=agent, status=AgentStatus.COMPLETED, progress=100, message="done"
                ),
            )
            await emit(
                session_id,
                ResearchStatusPayload(
                    status=RunStatus.RUNNING,
                    progress=min(99, index * 100 // len(steps)),
                    stage=agent.value,
                ),
            )
        await emit(
            session_id,
            AgentUpdatePayload(
                agent=AgentName.ORCHESTRATOR,
                status=AgentStatus.COMPLETED,
                progress=100,
                message="demo finished",
            ),
        )
        await append_payload(
            self._log,
            session_id,
            ResearchStatusPayload(status=RunStatus.COMPLETED, progress=100, stage="done"),
        )

    async def _write_file(
        self, session_id: str, language: str, subject: str
    ) -> FileGeneratedPayload:
        folder = self._settings.outputs_dir / session_id
        folder.mkdir(parents=True, exist_ok=True)
        name = f"demo-report-{language}.md"
        text = f"# Demo report ({language})\n\n{subject}\n\n"
        data = (text + "This is the scripted demo producer, not research.\n").encode()
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, Path(folder / name))
        await make_file_store(self._settings).publish(session_id, folder / name)
        return FileGeneratedPayload(
            name=name,
            kind=FileKind.MD,
            language=language,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            path=f"/api/sessions/{session_id}/files/{name}",
        )


async def run_demo(
    log: EventLog,
    settings: Settings,
    session_id: str,
    subject: str,
    language: str,
    cancel: asyncio.Event,
    stop: list[RunStatus],
    reason: str,
) -> RunStatus:
    """The scripted run for a queue worker: like :func:`tk9.research.runner.run_research`, it
    ends ``stop[0]`` (cancelled, or interrupted for ``reason``) when ``cancel`` is set."""
    demo = DemoRuns(log, settings)
    script = asyncio.create_task(demo.play(session_id, subject, language))
    waiter = asyncio.create_task(cancel.wait())
    try:
        await asyncio.wait({script, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if script.done():
        script.result()
        return RunStatus.COMPLETED
    script.cancel()
    await asyncio.gather(script, return_exceptions=True)
    why = "cancelled" if stop[0] == RunStatus.CANCELLED else reason
    await demo.sessions.close(session_id, Closing.stopped(stop[0], why))
    return stop[0]
