"""Per-user limits hold across web nodes: two real ``tk9 serve`` processes with accounts on one
redis-server (users, log and the per-user counters of :mod:`tk9.jobs.admission` in it), no
worker, so runs stay queued (active) until cancelled.

* concurrent runs: alice's runs on web-1 and web-2 together reach her limit; a third is refused
  on either node, and a cancel on one node frees a slot on the other;
* runs per day: counted across both nodes (a cancelled run still counts: it was started);
* an admin has no daily quota, and another user's runs do not count against alice;
* the rate buckets are one bucket for both nodes: a user's session-creation burst, and the
  sign-in attempts of an address (:mod:`tk9.jobs.buckets`).

Plus the counters themselves against a real redis-server: two reservations racing for the
last slot, and a reservation given back when the session could not be created.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis

from tests.log.redis_server import RedisServer
from tests.scale.cluster import Cluster, queue_env
from tests.server.accounts import PASSWORD
from tests.support import ServerProcess
from tk9.accounts.redis_store import RedisUserStore
from tk9.events import RunStatus
from tk9.jobs.admission import DAY, GRACE, Refused, RunAdmission, active_key
from tk9.log.memory import MemoryEventLog
from tk9.sessions import LogWriter, SessionService

pytestmark = pytest.mark.redis

CREATE_BURST = 8
LOGIN_BURST = 4


@pytest.fixture(scope="module")
def nodes(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cluster, dict[str, str]]]:
    redis_server.flush()
    store = RedisUserStore(redis_server.url)
    tokens = {}
    for name, admin in (("alice", False), ("bob", False), ("root", True), ("ops", True)):
        store.add_user(name, PASSWORD, admin=admin)
        tokens[name] = store.create_token(name)
    store.close()
    data = tmp_path_factory.mktemp("limits") / "data"
    data.mkdir()
    env = queue_env(
        redis_server.url,
        TK9_AUTH="accounts",
        TK9_USER_MAX_ACTIVE_RUNS="2",
        TK9_USER_RUNS_PER_DAY="3",
        TK9_USER_CREATE_BURST=str(CREATE_BURST),
        TK9_USER_CREATE_PER_MINUTE="0.5",  # one more every 2 minutes: none during the test
        TK9_LOGIN_BURST=str(LOGIN_BURST),
        TK9_LOGIN_PER_MINUTE="0.5",
        TK9_REAPER_INTERVAL="0.2",
    )
    cluster = Cluster(redis_server, data, env)
    try:
        cluster.start_web("web-1")
        cluster.start_web("web-2")
        yield cluster, tokens
    finally:
        cluster.stop()


def create(web: ServerProcess, token: str) -> tuple[int, str]:
    r = web.api(
        "POST",
        "/api/sessions",
        json={"subject": "tides and the moon", "language": "en"},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = r.json()
    return r.status_code, body.get("session_id") or body["error"]["code"]


def cancel(web: ServerProcess, token: str, sid: str) -> None:
    r = web.api("POST", f"/api/sessions/{sid}/cancel", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 202, r.text


def test_concurrent_runs_and_runs_per_day_are_counted_across_nodes(
    nodes: tuple[Cluster, dict[str, str]],
) -> None:
    cluster, tokens = nodes
    web1, web2 = cluster.web
    alice = tokens["alice"]
    code1, first = create(web1, alice)
    code2, second = create(web2, alice)
    assert (code1, code2) == (201, 201)
    assert create(web1, alice) == (429, "too_many_runs")  # one on each node: her limit
    assert create(web2, alice) == (429, "too_many_runs")
    assert create(web2, tokens["bob"])[0] == 201  # bob's runs are his own

    cancel(web2, alice, first)  # the run web-1 created, cancelled on web-2
    code3, _third = create(web1, alice)
    assert code3 == 201  # the slot is free on web-1 at once: the count lives in Redis
    cancel(web1, alice, second)
    assert create(web2, alice) == (429, "daily_quota")  # 3 started today, across both nodes
    assert create(web1, alice) == (429, "daily_quota")
    for _ in range(3):  # an admin has no daily quota (but the concurrent limit: 2)
        code, sid = create(web2, tokens["root"])
        assert code == 201
        cancel(web1, tokens["root"], sid)


def test_the_rate_buckets_are_shared_by_both_nodes(
    nodes: tuple[Cluster, dict[str, str]],
) -> None:
    """Per process, each node would allow the full burst (2× in all); shared, it is one."""
    cluster, tokens = nodes
    web1, web2 = cluster.web
    for n in range(CREATE_BURST):  # an admin: no daily quota; each run cancelled at once
        web = (web1, web2)[n % 2]
        code, sid = create(web, tokens["ops"])
        assert code == 201, sid
        cancel(web, tokens["ops"], sid)
    for web in (web1, web2):
        r = web.api(
            "POST",
            "/api/sessions",
            json={"subject": "tides and the moon", "language": "en"},
            headers={"Authorization": f"Bearer {tokens['ops']}"},
        )
        assert (r.status_code, r.json()["error"]["code"]) == (429, "rate_limited")
        assert 1 <= int(r.headers["retry-after"]) <= 120  # 0.5 a minute
    wrong = {"username": "bob", "password": "not the password"}
    for n in range(LOGIN_BURST):
        assert (web1, web2)[n % 2].api("POST", "/api/auth/login", json=wrong).status_code == 401
    for web in (web1, web2):
        r = web.api("POST", "/api/auth/login", json=wrong)
        assert (r.status_code, r.json()["error"]["code"]) == (429, "rate_limited")


async def test_two_nodes_racing_for_the_last_slot_get_it_once(
    redis: Redis, redis_server: RedisServer
) -> None:
    """Many reservations at once from two "nodes" (two clients): exactly the limit wins."""
    url = redis_server.url
    log = MemoryEventLog()
    await log.open()
    nodes = [RunAdmission(url, log), RunAdmission(url, log)]
    try:
        now = 1_000_000.0
        got = await asyncio.gather(
            *(nodes[i % 2].reserve("alice", f"s{i}", now, 3, None) for i in range(20))
        )
        assert sum(1 for g in got if g.refused == Refused.NO) == 3
        assert {g.refused for g in got} == {Refused.NO, Refused.ACTIVE}
        daily = await asyncio.gather(
            *(nodes[i % 2].reserve("bob", f"b{i}", now, 100, 4) for i in range(20))
        )
        assert sum(1 for g in daily if g.refused == Refused.NO) == 4
        late = await nodes[0].reserve("bob", "late", now + DAY, 100, 4)
        assert late.refused == Refused.NO  # a day later the first four no longer count
    finally:
        for node in nodes:
            await node.close()
        await log.close()


async def test_ended_or_vanished_runs_leave_the_count_and_a_failed_create_gives_back(
    redis: Redis, redis_server: RedisServer
) -> None:
    log = MemoryEventLog()
    await log.open()
    admission = RunAdmission(redis_server.url, log)
    sessions = SessionService(log, "web-1")
    try:
        now = 1_000_000.0
        for sid in ("a", "b"):
            assert (await admission.reserve("alice", sid, now, 2, 10)).refused == Refused.NO
            await sessions.create(sid, "tides", "en")
        assert (await admission.reserve("alice", "c", now, 2, 10)).refused == Refused.ACTIVE
        await LogWriter(log, "a").status(RunStatus.CANCELLED, 0, "cancelled")
        await log.update_meta("a", {"status": "cancelled"})
        assert (await admission.reserve("alice", "c", now, 2, 10)).refused == Refused.NO
        await admission.release("alice", "c")  # its session could not be created
        assert (await admission.reserve("alice", "d", now, 2, 10)).refused == Refused.NO
        # "d" has no session yet: kept while another node may still be creating it
        assert (await admission.reserve("alice", "e", now + 1, 2, 10)).refused == Refused.ACTIVE
        assert (await admission.reserve("alice", "e", now + GRACE + 1, 2, 10)).refused == Refused.NO
        members = await redis.zrange(active_key("alice"), 0, -1)
        assert sorted(members) == [b"b", b"e"]
    finally:
        await admission.close()
        await log.close()
