"""Limits: per-user creation rate and active runs, the global queue bound (429 + Retry-After,
nothing created), and the paged session listing. Time is a FakeClock: nothing sleeps.

The rate buckets are tested twice where it matters: in this process and in a real
redis-server (:mod:`tk9.jobs.buckets`, used with the Redis log), with the same answers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from starlette.testclient import WebSocketDenialResponse

from tests.log.redis_server import RedisServer, free_port
from tests.server.accounts import World, accounts_world
from tests.support import wait_until
from tk9.accounts.store import User
from tk9.clock import FakeClock
from tk9.errors import RateLimited, Unavailable
from tk9.jobs.admission import RunAdmission
from tk9.jobs.buckets import SharedBuckets, bucket_key
from tk9.log.memory import MemoryEventLog
from tk9.server.limits import Limits, QueueFull, TooManyRuns
from tk9.settings import Settings

SUBJECT = {"subject": "Tidal power", "language": "en"}
ALICE, BOB = User("alice", False), User("bob", False)


MakeLimits = Callable[..., Limits]


def _limits(clock: FakeClock, shared: RunAdmission | None = None, **kw: object) -> Limits:
    base: dict[str, object] = {"auth": "accounts", "user_create_burst": 2}
    settings = Settings(**{**base, "user_create_per_minute": 6, **kw})  # type: ignore[arg-type]
    return Limits(settings, clock, shared)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def make_limits(request: pytest.FixtureRequest) -> AsyncIterator[MakeLimits]:
    """``Limits`` with its buckets in this process, or in a real (flushed) redis-server."""
    if request.param == "memory":
        yield _limits
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    server.flush()
    made: list[RunAdmission] = []

    def make(clock: FakeClock, **kw: object) -> Limits:
        made.append(RunAdmission(server.url, MemoryEventLog()))
        return _limits(clock, made[-1], **kw)

    yield make
    for admission in made:
        await admission.close()


async def test_creation_rate_is_a_token_bucket_per_user(make_limits: MakeLimits) -> None:
    clock = FakeClock()
    limits = make_limits(clock)
    await limits.admit(ALICE, [])
    await limits.admit(ALICE, [])
    with pytest.raises(RateLimited) as refused:
        await limits.admit(ALICE, [])
    assert refused.value.retry_after == pytest.approx(10.0)  # 6 a minute: one every 10 s
    await limits.admit(BOB, [])  # bob has his own bucket
    clock.advance(9.9)
    with pytest.raises(RateLimited):
        await limits.admit(ALICE, [])
    clock.advance(0.1)
    await limits.admit(ALICE, [])


async def test_active_runs_per_user_and_the_global_queue() -> None:
    limits = _limits(FakeClock(), user_create_burst=100, user_max_active_runs=2, max_active_runs=3)
    await limits.admit(ALICE, [])
    limits.started(ALICE, "a1")
    await limits.admit(ALICE, ["a1"])
    limits.started(ALICE, "a2")
    with pytest.raises(TooManyRuns):
        await limits.admit(ALICE, ["a1", "a2"])
    await limits.admit(ALICE, ["a2"])  # a1 finished: room again
    await limits.admit(BOB, ["a1", "a2"])
    with pytest.raises(QueueFull):
        await limits.admit(BOB, ["a1", "a2", "b1"])


async def test_auth_none_has_only_the_global_bound() -> None:
    limits = Limits(Settings(max_active_runs=1, user_create_burst=1), FakeClock())
    local = User("local", True)
    for _ in range(5):
        await limits.admit(local, [])
    with pytest.raises(QueueFull):
        await limits.admit(local, ["x"])


def _post(world: World, who: str) -> tuple[int, dict[str, object], str | None]:
    r = world.client.post("/api/sessions", json=SUBJECT, headers=world.auth(who))
    return r.status_code, r.json(), r.headers.get("retry-after")


def _mine(world: World, who: str) -> list[str]:
    body = world.client.get("/api/sessions", headers=world.auth(who)).json()
    return [s["session_id"] for s in body["sessions"]]


def test_http_429_with_retry_after_creates_nothing(tmp_path: Path) -> None:
    clock = FakeClock()
    settings = {"user_create_burst": 2, "user_create_per_minute": 6}
    with accounts_world(tmp_path, clock, **settings) as w:
        assert _post(w, "alice")[0] == _post(w, "alice")[0] == 201
        status, body, retry = _post(w, "alice")
        assert status == 429 and retry == "10"
        assert body["error"]["code"] == "rate_limited"  # type: ignore[index]
        assert len(_mine(w, "alice")) == 2
        assert _post(w, "bob")[0] == 201
        clock.advance(10)
        assert _post(w, "alice")[0] == 201


def test_http_too_many_active_runs(tmp_path: Path) -> None:
    slow = {"demo_interval": 5.0, "user_max_active_runs": 2, "max_active_runs": 3}
    with accounts_world(tmp_path, **slow) as w:
        first = _post(w, "alice")[1]["session_id"]
        assert _post(w, "alice")[0] == 201
        status, body, retry = _post(w, "alice")
        assert (status, body["error"]["code"], retry) == (429, "too_many_runs", "30")  # type: ignore[index]
        assert _post(w, "bob")[0] == 201
        status, body, _ = _post(w, "root")
        assert (status, body["error"]["code"]) == (429, "queue_full")  # type: ignore[index]
        w.client.post(f"/api/sessions/{first}/cancel", headers=w.auth("alice"))
        wait_until(lambda: _post(w, "alice")[0] == 201, what="a slot after the cancel")
        for sid in _mine(w, "root"):
            w.client.post(f"/api/sessions/{sid}/cancel", headers=w.auth("root"))


def test_listing_is_paged_with_a_cursor(tmp_path: Path) -> None:
    with accounts_world(tmp_path, user_create_burst=10) as w:
        created = [_post(w, "alice")[1]["session_id"] for _ in range(5)]
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, str | int] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            r = w.client.get("/api/sessions", params=params, headers=w.auth("alice"))
            assert r.status_code == 200
            page = r.json()
            assert len(page["sessions"]) <= 2
            seen += [s["session_id"] for s in page["sessions"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(created)) and pages == 3
        assert _mine(w, "bob") == []
        for bad in ({"limit": 101}, {"limit": 0}, {"cursor": "not-a-cursor"}):
            r = w.client.get("/api/sessions", params=bad, headers=w.auth("alice"))
            assert r.status_code == 422, bad


def test_sign_in_attempts_are_limited_per_address_before_hashing(tmp_path: Path) -> None:
    clock = FakeClock()
    with accounts_world(tmp_path, clock, login_burst=3, login_per_minute=6) as w:
        wrong = {"username": "alice", "password": "not the password"}
        for _ in range(3):
            assert w.client.post("/api/auth/login", json=wrong).status_code == 401
        refused = w.client.post("/api/auth/login", json={"username": "alice", "password": "x"})
        assert refused.status_code == 429 and refused.headers["retry-after"] == "10"
        clock.advance(10)
        right = {"username": "alice", "password": "correct horse battery"}
        assert w.client.post("/api/auth/login", json=right).status_code == 204


async def test_rate_buckets_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import tk9.server.limits as limits_module

    monkeypatch.setattr(limits_module, "MAX_BUCKETS", 10)
    clock = FakeClock()
    limits = _limits(clock)
    for n in range(50):
        await limits.login_attempt(f"10.0.0.{n}")
        clock.advance(1)
    assert len(limits._buckets) <= 10


async def test_stream_connections_are_a_bucket_per_address_and_per_user(
    make_limits: MakeLimits,
) -> None:
    clock = FakeClock()
    limits = make_limits(
        clock,
        stream_connect_burst=2,
        stream_connects_per_minute=30,
        address_connect_burst=3,
        address_connects_per_minute=60,
    )
    await limits.stream_user(ALICE)
    await limits.stream_user(ALICE)
    with pytest.raises(RateLimited) as refused:
        await limits.stream_user(ALICE)
    assert refused.value.retry_after == pytest.approx(2.0)  # 30 a minute
    await limits.stream_user(BOB)  # his own bucket
    for _ in range(3):
        await limits.stream_address("10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        await limits.stream_address("10.0.0.1")
    assert refused.value.retry_after == pytest.approx(1.0)
    await limits.stream_address("10.0.0.2")
    clock.advance(2.0)
    await limits.stream_user(ALICE)
    await limits.stream_address("10.0.0.1")


@pytest.mark.redis
async def test_shared_buckets_are_one_bucket_for_every_node(redis_server: RedisServer) -> None:
    """The Lua bucket in a real redis-server: two nodes (two clients) draw on one bucket, the
    refill follows the time passed in, a node whose clock is behind refills nothing, racing
    takes get exactly the burst, and the key expires when the bucket would be full again."""
    redis_server.flush()
    nodes = [RunAdmission(redis_server.url, MemoryEventLog()) for _ in range(2)]
    one, two = (SharedBuckets(node.client) for node in nodes)
    try:
        now = 1_700_000_000.0
        assert await one.take("user:alice", 2, 6, now) == 0.0
        assert await two.take("user:alice", 2, 6, now) == 0.0
        assert await one.take("user:alice", 2, 6, now) == pytest.approx(10.0)  # one per 10 s
        assert await two.take("user:alice", 2, 6, now + 4) == pytest.approx(6.0)
        assert await one.take("user:alice", 2, 6, now + 2) == pytest.approx(6.0)  # behind
        assert await two.take("user:alice", 2, 6, now + 10) == 0.0
        ttl = await nodes[0].client.pttl(bucket_key("user:alice"))
        assert 0 < ttl <= 21_000  # 2 tokens short at 6 a minute: full again in 20 s (+1 s)
        got = await asyncio.gather(
            *(SharedBuckets(nodes[i % 2].client).take("addr:x", 5, 1, now) for i in range(20))
        )
        assert sorted(got)[:6] == [0.0] * 5 + [pytest.approx(60.0)]
    finally:
        for node in nodes:
            await node.close()


async def test_redis_unreachable_refuses_with_503_and_admits_nothing() -> None:
    """Fail closed, as the user store does: ``Unavailable`` (503, retryable), not N× the rate."""
    dead = RunAdmission(f"redis://127.0.0.1:{free_port()}/0", MemoryEventLog())
    limits = _limits(FakeClock(), dead)
    try:
        for check in (
            limits.admit(ALICE, []),
            limits.login_attempt("10.0.0.1"),
            limits.stream_address("10.0.0.1"),
            limits.stream_user(ALICE),
            limits.reserve(ALICE, "s1"),
        ):
            with pytest.raises(Unavailable) as refused:
                await check
            assert refused.value.status == 503
    finally:
        await dead.close()


def _sse(world: World, sid: str, who: str | None) -> tuple[int, str | None]:
    r = world.client.get(f"/api/sessions/{sid}/stream", headers=world.auth(who))
    return r.status_code, r.headers.get("retry-after")


def test_a_reconnect_storm_gets_http_429_before_the_upgrade(tmp_path: Path) -> None:
    """Over the rate, a WebSocket handshake is answered 429 + Retry-After (no upgrade, no
    catch-up) and so is SSE; other users are not affected; the bucket refills with time."""
    clock = FakeClock()
    rates = {"stream_connect_burst": 3, "stream_connects_per_minute": 6}
    with accounts_world(tmp_path, clock, address_connect_burst=100, **rates) as w:
        sid = _post(w, "alice")[1]["session_id"]
        bob_sid = _post(w, "bob")[1]["session_id"]
        url = f"/ws/sessions/{sid}"
        for _ in range(3):
            with w.client.websocket_connect(url, headers=w.auth("alice")) as ws:
                assert ws.receive_json()["type"] == "hello"
        with (
            pytest.raises(WebSocketDenialResponse) as denied,
            w.client.websocket_connect(url, headers=w.auth("alice")),
        ):
            pass
        assert denied.value.status_code == 429
        assert denied.value.headers["retry-after"] == "10"
        assert denied.value.json()["error"]["code"] == "rate_limited"
        assert _sse(w, sid, "alice") == (429, "10")
        with w.client.websocket_connect(f"/ws/sessions/{bob_sid}", headers=w.auth("bob")) as ws:
            assert ws.receive_json()["type"] == "hello"
        clock.advance(10)
        with w.client.websocket_connect(url, headers=w.auth("alice")) as ws:
            assert ws.receive_json()["type"] == "hello"


def test_the_address_limit_comes_before_the_token_lookup(tmp_path: Path) -> None:
    clock = FakeClock()
    with accounts_world(tmp_path, clock, address_connect_burst=2) as w:
        assert w.client.app is not None
        users = w.client.app.ctx.users  # type: ignore[attr-defined]
        looked_up: list[str] = []
        real = users.user_for_token
        users.user_for_token = lambda token, now: looked_up.append(token) or real(token, now)
        sid = str(uuid.uuid4())
        forged = {"Authorization": "Bearer tk9_forged"}
        for _ in range(2):
            r = w.client.get(f"/api/sessions/{sid}/stream", headers=forged)
            assert r.status_code == 401
        for _ in range(5):
            r = w.client.get(f"/api/sessions/{sid}/stream", headers=forged)
            assert r.status_code == 429
        assert len(looked_up) == 2
        assert w.client.get("/api/sessions", headers=forged).status_code == 401  # not a stream
