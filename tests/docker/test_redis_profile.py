"""The ``redis`` profile: tk9 on the Redis event log (the Redis container) behind Caddy; a run
followed by the three transports through Caddy ends with 0 violations, and its stream is in
Redis. (Compose v2 brings it up: Debian's docker-compose 1.29 accepts the file, see
test_image.py, but refuses host networking next to the published ports of the base file.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.docker.harness import Engine, Stack, stack
from tests.docker.test_faults import PACE, _at, _create, _score, _viewers
from tests.faults.harness.topology import finish, run_viewers


@pytest.fixture(scope="module")
def redis_stack(engine: Engine, compose: str) -> Iterator[Stack]:
    settings = {**PACE, "TK9_TEST_LOG_BACKEND": "redis"}
    with stack(engine, compose, "redis", settings) as s:
        s.nginx_conf = s.workdir / "unused.conf"
        s.nginx_conf.write_text("")
        s.run("--profile", "redis", "up", "-d", "--no-build", "redis")
        s.run("--profile", "redis", "up", "-d", "--no-build")
        s.wait_healthy("tk9")
        s.wait_http(s.caddy_url)
        yield s


async def test_redis_profile_run_through_caddy(redis_stack: Stack) -> None:
    s = redis_stack
    sid = await _create(s.caddy_url, "Redis profile")
    viewers = _viewers(s.caddy_url, sid, seed=77)
    tasks = await run_viewers(viewers)
    await _at(viewers, 20)
    await finish(tasks, 60)
    result = await _score(s, sid, viewers)
    assert result["status"] == "completed"
    keys = s.engine.docker(
        "exec", s.container("redis"), "redis-cli", "-p", str(s.redis_port), "--scan"
    ).stdout
    assert sid in keys, f"the run's stream is not in Redis: {keys[:500]}"
