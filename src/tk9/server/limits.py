"""Per-user limits on starting runs, and the global queue bound.

A new session starts a run, so ``POST /api/sessions`` is where one client could exhaust the
service (the issue measured 196 sessions/s from one anonymous client, and 150 queued runs
delaying someone else's by 93 s). Before a session is created, :meth:`Limits.admit` checks:

* the caller's **creation rate**: at most ``TK9_USER_CREATE_BURST`` sessions at once, refilled
  at ``TK9_USER_CREATE_PER_MINUTE`` (a token bucket per user, on the injected monotonic clock);
* the caller's **active runs** (queued + running): at most ``TK9_USER_MAX_ACTIVE_RUNS``;
* the **global queue**: at most ``TK9_MAX_ACTIVE_RUNS`` runs queued or running in this process.

:meth:`Limits.login_attempt` is the same bucket for sign-in attempts per client address
(``TK9_LOGIN_BURST`` at once, ``TK9_LOGIN_PER_MINUTE`` after), checked before the password is
hashed: it slows password guessing and keeps argon2's 64 MiB, ~0.1 s hashes from being a way
to load the machine.

:meth:`Limits.stream_address` and :meth:`Limits.stream_user` are the same bucket for opening
live streams (WebSocket, SSE): per client address (``TK9_ADDRESS_CONNECT_BURST`` /
``TK9_ADDRESS_CONNECTS_PER_MINUTE``), checked before the credentials are looked up, and per
user (``TK9_STREAM_CONNECT_BURST`` / ``TK9_STREAM_CONNECTS_PER_MINUTE``). Each stream costs a
handshake, a token check and a catch-up from the log, so a client reconnecting as fast as it
can (the issue's flooder, after each close 1008) was a way to slow every other viewer.

With the Redis log (several web nodes), the per-user active runs and runs per day are counted
in Redis instead (:mod:`tk9.jobs.admission`, through :meth:`Limits.reserve`), and so are the
creation-rate, stream-connect and sign-in buckets (:mod:`tk9.jobs.buckets`, on the node's wall
clock), so they all hold across nodes; Redis unreachable is a 503 (``Unavailable``), not a pass.

Each refusal is a 429 (``RateLimited``) with ``Retry-After``, and nothing is created. The
per-user checks apply to accounts; under ``TK9_AUTH=none`` (loopback, one trusted local user)
only the global bound does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from tk9.accounts.store import User
from tk9.clock import Clock
from tk9.errors import Forbidden, RateLimited
from tk9.jobs.admission import Refused, RunAdmission
from tk9.jobs.buckets import SharedBuckets
from tk9.log.base import StreamInfo
from tk9.settings import Settings

DAY = 24 * 3600.0

MAX_BUCKETS = 100_000
"""Rate buckets kept (one per user, one per sign-in address) before idle ones are dropped."""
RUN_RETRY_AFTER = 30.0
"""What ``Retry-After`` says when runs, not the rate, are the limit (runs last minutes)."""


@dataclass
class _Bucket:
    tokens: float
    at: float


class TooManyRuns(RateLimited):
    code = "too_many_runs"


class QueueFull(RateLimited):
    code = "queue_full"


class DailyQuota(RateLimited):
    code = "daily_quota"


class StorageQuota(Forbidden):
    code = "storage_quota"


class Limits:
    """The admission checks for new runs; one per app."""

    def __init__(
        self, settings: Settings, clock: Clock, shared: RunAdmission | None = None
    ) -> None:
        self._settings = settings
        self._clock = clock
        self.shared = shared
        """The per-user counters in Redis, shared by every node (None: this process counts)."""
        self._buckets: dict[str, _Bucket] = {}
        self._shared_buckets = None if shared is None else SharedBuckets(shared.client)
        """The rate buckets in Redis, with the shared counters (None: in this process)."""
        self._owners: dict[str, str] = {}

    async def admit(self, user: User, active: list[str]) -> None:
        """Raise a 429 error unless ``user`` may start a run now (``active``: live run ids)."""
        s = self._settings
        if len(active) >= s.max_active_runs:
            raise QueueFull(
                f"the service has {len(active)} runs queued or running: try again later",
                RUN_RETRY_AFTER,
            )
        if s.auth == "none":
            return
        if self.shared is not None:  # counted across nodes by reserve()
            await self._take("user:" + user.username, s.user_create_burst, s.user_create_per_minute)
            return
        live = set(active)
        for sid in [sid for sid in self._owners if sid not in live]:
            del self._owners[sid]
        mine = sum(1 for owner in self._owners.values() if owner == user.username)
        if mine >= s.user_max_active_runs:
            raise TooManyRuns(
                f"you have {mine} runs queued or running (limit {s.user_max_active_runs}): "
                "wait for one to finish or cancel one",
                RUN_RETRY_AFTER,
            )
        await self._take("user:" + user.username, s.user_create_burst, s.user_create_per_minute)

    async def check_quota(
        self, user: User, owner_key: str, streams: list[StreamInfo], outputs: Path
    ) -> None:
        """The per-user quotas (accounts, non-admins): runs started in the last 24 hours
        (``TK9_USER_RUNS_PER_DAY``: 429, ``Retry-After`` = when the oldest of them turns a day
        old) and the disk their sessions' files use (``TK9_USER_STORAGE_MB``: 403, until they
        delete sessions). Counted from the log, so a restart forgets nothing."""
        s = self._settings
        if s.auth == "none" or user.admin:
            return
        mine = [i for i in streams if i.meta.get(owner_key) == user.username]
        if s.user_runs_per_day is not None and self.shared is None:
            now = self._clock.wall()
            today = [i.created_at for i in mine if now - i.created_at < DAY]
            if len(today) >= s.user_runs_per_day:
                wait = min(today) + DAY - now
                raise DailyQuota(
                    f"you started {len(today)} runs in the last 24 hours (limit "
                    f"{s.user_runs_per_day}): the next one can start in {wait / 3600:.1f} h",
                    wait,
                )
        if s.user_storage_mb is not None:
            used = await asyncio.to_thread(_files_bytes, [outputs / i.session_id for i in mine])
            quota = s.user_storage_mb * 1024 * 1024
            if used >= quota:
                raise StorageQuota(
                    f"your sessions' files use {used / 2**20:.1f} MiB of your "
                    f"{s.user_storage_mb:g} MiB: delete old sessions to start a new one",
                    used_bytes=used,
                    quota_bytes=int(quota),
                )

    async def reserve(self, user: User, session_id: str) -> None:
        """With shared counters: count ``session_id`` as ``user``'s run on every node, or
        raise the 429 of the limit it would break (nothing recorded then)."""
        s = self._settings
        if self.shared is None or s.auth == "none":
            return
        now = self._clock.wall()
        per_day = None if user.admin else s.user_runs_per_day
        got = await self.shared.reserve(
            user.username, session_id, now, s.user_max_active_runs, per_day
        )
        if got.refused == Refused.ACTIVE:
            raise TooManyRuns(
                f"you have {got.count} runs queued or running (limit {s.user_max_active_runs}): "
                "wait for one to finish or cancel one",
                RUN_RETRY_AFTER,
            )
        if got.refused == Refused.DAILY:
            wait = max(1.0, got.oldest + DAY - now)
            raise DailyQuota(
                f"you started {got.count} runs in the last 24 hours (limit {per_day}): "
                f"the next one can start in {wait / 3600:.1f} h",
                wait,
            )

    async def unreserve(self, user: User, session_id: str) -> None:
        """The session could not be created after :meth:`reserve`: give the slot back."""
        if self.shared is not None and self._settings.auth != "none":
            await self.shared.release(user.username, session_id)

    async def close(self) -> None:
        if self.shared is not None:
            await self.shared.close()

    def started(self, user: User, session_id: str) -> None:
        """Count ``session_id`` as ``user``'s until its run ends."""
        self._owners[session_id] = user.username

    async def login_attempt(self, client: str) -> None:
        """Raise ``RateLimited`` when ``client`` (an address) has tried to sign in too often."""
        s = self._settings
        await self._take("login:" + client, s.login_burst, s.login_per_minute, "sign-in attempts")

    async def stream_address(self, client: str) -> None:
        """Raise ``RateLimited`` when ``client`` (an address) opens live streams too often."""
        s = self._settings
        per_minute = s.address_connects_per_minute
        await self._take("addr:" + client, s.address_connect_burst, per_minute, "connections")

    async def stream_user(self, user: User) -> None:
        """Raise ``RateLimited`` when ``user`` opens live streams too often."""
        s = self._settings
        per_minute = s.stream_connects_per_minute
        await self._take(
            "stream:" + user.username, s.stream_connect_burst, per_minute, "connections"
        )

    async def _take(
        self, key: str, burst: int, per_minute: float, what: str = "new sessions"
    ) -> None:
        if self._shared_buckets is not None:  # one bucket for every node
            wait = await self._shared_buckets.take(key, burst, per_minute, self._clock.wall())
            if wait > 0.0:
                raise RateLimited(f"too many {what}: at most {per_minute:g} a minute", wait)
            return
        rate = per_minute / 60.0
        now = self._clock.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(float(burst), now)
        bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens < 1.0:
            wait = (1.0 - bucket.tokens) / rate
            raise RateLimited(f"too many {what}: at most {per_minute:g} a minute", wait)
        bucket.tokens -= 1.0

    def _forget_full(self, now: float) -> None:
        """Drop buckets idle long enough to be full again (bounds memory under many clients)."""
        idle = 3600.0
        for key in [k for k, b in self._buckets.items() if now - b.at > idle]:
            del self._buckets[key]
        if len(self._buckets) >= MAX_BUCKETS:  # still full: forget the oldest half
            for key in sorted(self._buckets, key=lambda k: self._buckets[k].at)[: MAX_BUCKETS // 2]:
                del self._buckets[key]


def _files_bytes(folders: list[Path]) -> int:
    """Bytes of the regular files in ``folders`` (links not followed, missing ones skipped)."""
    total = 0
    for folder in folders:
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.lstat()
            except OSError:
                continue
            if entry.is_file() and not entry.is_symlink():
                total += st.st_size
    return total
