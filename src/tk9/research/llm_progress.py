"""Streaming progress of one model call on its agent's card, throttled.

A model streams a chunk per token; an event per token would flood the event log and every
viewer. :class:`StreamProgress` reports at most once per ``interval`` seconds ("Writing the
introduction — 320 tokens") on an injectable clock, and reports a wait or a retry (rare) at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tk9.events import AgentName, AgentStatus


class Reporter(Protocol):
    """Where the engine reports progress and warnings; :class:`~tk9.research.emitter.Emitter`
    is one."""

    async def agent(
        self, agent: AgentName, status: AgentStatus, progress: int = 0, message: str = ""
    ) -> None: ...

    async def warn(self, message: str, agent: AgentName | None = None) -> None: ...


class StreamProgress:
    """Turns one call's streamed token counts into throttled agent updates.

    ``percent`` maps the tokens received so far to the card's percentage.
    """

    def __init__(
        self,
        reporter: Reporter | None,
        agent: AgentName,
        label: str,
        percent: Callable[[int], int],
        *,
        interval: float,
        clock: Callable[[], float],
    ) -> None:
        self.reporter = reporter
        self.agent = agent
        self.label = label
        self.percent = percent
        self.interval = interval
        self.clock = clock
        self.last = clock()

    async def __call__(self, tokens: int) -> None:
        """After each chunk: report if ``interval`` has passed since the last report."""
        now = self.clock()
        if self.reporter is None or now - self.last < self.interval:
            return
        self.last = now
        await self.reporter.agent(
            self.agent,
            AgentStatus.RUNNING,
            min(99, self.percent(tokens)),
            f"{self.label} — {tokens} tokens",
        )

    async def note(self, message: str) -> None:
        """Say something about the call on the card at once: it waits for a slot, a failed
        attempt is retried (rare, so never throttled)."""
        if self.reporter is not None:
            await self.reporter.agent(
                self.agent,
                AgentStatus.RUNNING,
                min(99, self.percent(0)),
                f"{self.label} — {message}",
            )
