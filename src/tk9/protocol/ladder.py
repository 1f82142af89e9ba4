"""Which transport a viewer uses and when it reconnects: the fallback ladder, pure (no I/O).

One policy for every client: the Python :class:`~tk9.client.session.SessionFollower` and the
browser's ``frontend/src/transport/ladder.ts`` implement these same rules and are tested
against the same scripted scenarios (``tests/fixtures/ladder/*.json``). A :class:`Ladder` is
fed what happened to the connection, with the time (``now``, monotonic seconds), and returns
actions; it never reads a clock, opens a socket or sleeps. :meth:`Ladder.deadline` says when it
next wants :meth:`Ladder.tick`, so a driver needs exactly one timer.

The rules (numbers in :class:`LadderPolicy`):

* **Backoff.** A connection that ends (closed, refused, silent) is retried after a jittered,
  exponentially growing delay: ceiling ``min(cap, base × 2^(n-1))`` for the n-th attempt in a
  row, delay uniform in ``[ceiling/2, ceiling]`` ("equal jitter": never a hot loop, never in
  lockstep). 0.25 s first, at most 10 s. A connection that opened (WebSocket/SSE ``hello``, a
  long-poll page) resets the count. A terminal close code stops for good.
* **Down the ladder** (preference ``auto`` only): WebSocket → SSE after 3 WebSocket failures in
  a row, at once when the upgrade was refused with plain HTTP (a proxy without WebSocket
  support); SSE → long-poll after 2 SSE failures in a row. A *failure* is a connection that
  ended without ever opening, or that went silent past the stale bound; a connection that
  opened and then closed is not one (it resets the count). Moving down connects at once.
* **Back up:** while on SSE or long-poll, a WebSocket *probe* is opened beside the stream every
  15 s (30 s, then 60 s after failed probes). A probe that opens within 10 s takes over
  (:class:`Promote`: it resumes from the cursor, the fallback stops); one that fails or times
  out is dropped and the next is scheduled.
* **Wake-ups** (network back, tab visible): a pending backoff is cut short (connect now, the
  count restarts) and, on a fallback, the probe runs now.
* A gap or an epoch change (:meth:`Ladder.resume`) reopens the same transport at once from the
  cursor: nothing failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tk9.errors import should_reconnect

Transport = Literal["ws", "sse", "poll"]
Preference = Literal["auto", "ws", "sse", "poll"]
ConnectReason = Literal["start", "retry", "fallback", "resume", "wake", "switch"]


@dataclass(frozen=True, slots=True)
class LadderPolicy:
    """The numbers of the ladder (module docstring); the browser uses the same defaults."""

    backoff_base: float = 0.25
    backoff_cap: float = 10.0
    ws_failures_before_fallback: int = 3
    sse_failures_before_poll: int = 2
    probe_interval: float = 15.0
    probe_timeout: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.backoff_base <= self.backoff_cap:
            raise ValueError("need 0 < backoff_base <= backoff_cap")
        if self.ws_failures_before_fallback < 1 or self.sse_failures_before_poll < 1:
            raise ValueError("failure thresholds must be >= 1")
        if self.probe_interval <= 0 or self.probe_timeout <= 0:
            raise ValueError("probe_interval and probe_timeout must be > 0")


def backoff_delay(attempt: int, random: float, base: float, cap: float) -> float:
    """Delay before the ``attempt``-th reconnect in a row (from 1), ``random`` in ``[0, 1)``."""
    ceiling: float = min(cap, base * 2.0 ** min(attempt - 1, 30))
    return ceiling / 2 + random * ceiling / 2


# --- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connect:
    """Open ``transport`` now, from the viewer's cursor (drop any current connection first)."""

    transport: Transport
    reason: ConnectReason


@dataclass(frozen=True, slots=True)
class Wait:
    """No connection until ``until``; then :meth:`Ladder.tick` returns the :class:`Connect`."""

    until: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    """A terminal close code: stop following."""

    close_code: int


@dataclass(frozen=True, slots=True)
class Probe:
    """Open a WebSocket beside the fallback stream; report :meth:`Ladder.probe_opened` or
    :meth:`Ladder.probe_failed`."""


@dataclass(frozen=True, slots=True)
class Promote:
    """The probe opened: it becomes the stream (from the cursor); stop the fallback."""


@dataclass(frozen=True, slots=True)
class DropProbe:
    """The probe took longer than ``probe_timeout``: close it."""


LadderAction = Connect | Wait | GiveUp | Probe | Promote | DropProbe


class Ladder:
    """A viewer's transport ladder (module docstring). ``random()`` is in ``[0, 1)``."""

    def __init__(
        self,
        preference: Preference = "auto",
        policy: LadderPolicy | None = None,
        *,
        random: Callable[[], float],
    ) -> None:
        if preference not in ("auto", "ws", "sse", "poll"):
            raise ValueError("preference must be auto, ws, sse or poll")
        self.preference: Preference = preference
        self.policy = policy or LadderPolicy()
        self._random = random
        self.transport: Transport = "ws" if preference == "auto" else preference
        self.phase: Literal["idle", "connecting", "open", "waiting", "stopped"] = "idle"
        self.attempt = 0
        """Reconnects in a row without an open connection (drives the backoff)."""
        self.failures = 0
        """Failures in a row of the current transport (drives the way down)."""
        self.probe_failures = 0
        self._wait_until: float | None = None
        self._probe_at: float | None = None
        self._probe_deadline: float | None = None

    # --- inputs ----------------------------------------------------------------------------

    def start(self, now: float) -> list[LadderAction]:
        self.phase = "connecting"
        return self._connect(now, self.transport, "start")

    def opened(self, now: float) -> list[LadderAction]:
        """The current connection opened (``hello``, or a first long-poll page)."""
        if self.phase == "connecting":
            self.phase = "open"
            self.attempt = 0
        return []

    def closed(self, now: float, code: int, *, refused: bool = False) -> list[LadderAction]:
        """The current connection ended with ``code`` (1006 when it just broke). ``refused``:
        a WebSocket upgrade answered with plain HTTP (a proxy that does not pass WebSocket)."""
        if self.phase not in ("connecting", "open"):
            return []
        if not should_reconnect(code):
            self.phase = "stopped"
            self._cancel_probe()
            return [GiveUp(code)]
        if refused and self.transport == "ws" and self.preference == "auto":
            return self._connect(now, "sse", "fallback")
        failed = self.phase == "connecting"
        return self._retry(now, failed=failed)

    def stale(self, now: float) -> list[LadderAction]:
        """The current connection went silent past the stale bound; the driver dropped it."""
        if self.phase not in ("connecting", "open"):
            return []
        return self._retry(now, failed=True)

    def resume(self, now: float) -> list[LadderAction]:
        """A gap or an epoch change: reopen the same transport from the cursor, at once."""
        if self.phase not in ("connecting", "open"):
            return []
        self.phase = "connecting"
        return [Connect(self.transport, "resume")]

    def use(self, now: float, transport: Transport) -> list[LadderAction]:
        """The viewer asked for ``transport``: pin it and go there now, from the cursor."""
        if self.phase == "stopped":
            return []
        dropped: list[LadderAction] = [DropProbe()] if self._probe_deadline is not None else []
        self.preference = transport
        self._cancel_probe()
        self._wait_until = None
        self.attempt = 0
        return self._connect(now, transport, "switch") + dropped

    def wake(self, now: float) -> list[LadderAction]:
        """The network came back or the page became visible: do not wait out the backoff."""
        if self.phase == "waiting":
            self.attempt = 0
            self._wait_until = None
            self.phase = "connecting"
            return [Connect(self.transport, "wake")]
        if self._probe_at is not None:
            self._probe_at = None
            return self._start_probe(now)
        return []

    def probe_opened(self, now: float) -> list[LadderAction]:
        if self._probe_deadline is None or self.phase == "stopped":
            return []
        self._probe_deadline = None
        self.transport = "ws"
        self.phase = "open"
        self.attempt = 0
        self.failures = 0
        self.probe_failures = 0
        self._wait_until = None
        return [Promote()]

    def probe_failed(self, now: float) -> list[LadderAction]:
        if self._probe_deadline is None:
            return []
        self._probe_deadline = None
        self.probe_failures += 1
        self._schedule_probe(now)
        return []

    def tick(self, now: float) -> list[LadderAction]:
        """Time passed: a backoff that ended, a probe due or a probe past its deadline."""
        actions: list[LadderAction] = []
        if self._wait_until is not None and now >= self._wait_until:
            self._wait_until = None
            self.phase = "connecting"
            actions.append(Connect(self.transport, "retry"))
        if self._probe_deadline is not None and now >= self._probe_deadline:
            self._probe_deadline = None
            self.probe_failures += 1
            actions.append(DropProbe())
            self._schedule_probe(now)
        if self._probe_at is not None and now >= self._probe_at:
            self._probe_at = None
            actions.extend(self._start_probe(now))
        return actions

    def deadline(self) -> float | None:
        """When :meth:`tick` next has work (None: only an input can change anything)."""
        times = [
            t for t in (self._wait_until, self._probe_at, self._probe_deadline) if t is not None
        ]
        return min(times) if times else None

    @property
    def on_fallback(self) -> bool:
        return self.transport != "ws" and self.preference == "auto"

    # --- rules -----------------------------------------------------------------------------

    def _retry(self, now: float, *, failed: bool) -> list[LadderAction]:
        self.failures = self.failures + 1 if failed else 0
        lower = self._lower()
        if lower is not None:
            return self._connect(now, lower, "fallback")
        self.attempt += 1
        policy = self.policy
        delay = backoff_delay(self.attempt, self._random(), policy.backoff_base, policy.backoff_cap)
        self.phase = "waiting"
        self._wait_until = now + delay
        return [Wait(self._wait_until)]

    def _lower(self) -> Transport | None:
        if self.preference != "auto":
            return None
        if self.transport == "ws" and self.failures >= self.policy.ws_failures_before_fallback:
            return "sse"
        if self.transport == "sse" and self.failures >= self.policy.sse_failures_before_poll:
            return "poll"
        return None

    def _connect(
        self, now: float, transport: Transport, reason: ConnectReason
    ) -> list[LadderAction]:
        changed = transport != self.transport
        self.transport = transport
        self.phase = "connecting"
        if changed:
            self.failures = 0
        actions: list[LadderAction] = [Connect(transport, reason)]
        if transport == "ws":
            if self._probe_deadline is not None:
                actions.append(DropProbe())
            self._cancel_probe()
        elif self.on_fallback and self._probe_at is None and self._probe_deadline is None:
            self._schedule_probe(now)
        return actions

    def _schedule_probe(self, now: float) -> None:
        if not self.on_fallback or self.phase == "stopped":
            return
        interval = self.policy.probe_interval
        self._probe_at = now + interval * 2 ** min(self.probe_failures, 2)

    def _start_probe(self, now: float) -> list[LadderAction]:
        if not self.on_fallback or self.phase == "stopped":
            return []
        self._probe_deadline = now + self.policy.probe_timeout
        return [Probe()]

    def _cancel_probe(self) -> None:
        self._probe_at = None
        self._probe_deadline = None
