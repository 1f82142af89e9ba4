"""The Python client and ``tk9 tail`` against a server with accounts: a token opens every
transport, no token is a clear, terminal ``Unauthorized``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.client.conftest import ServerProcess, _server
from tests.server.accounts import seed_users
from tk9.cli import app
from tk9.client.http import create_session, list_sessions
from tk9.client.link import Applied
from tk9.client.session import SessionFollower
from tk9.errors import Unauthorized


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    tokens = seed_users(tmp_path / "data" / "tk9.sqlite3")
    for server in _server(tmp_path, TK9_AUTH="accounts"):
        yield server, tokens


async def test_a_token_opens_every_transport(secured: tuple[ServerProcess, dict[str, str]]) -> None:
    server, tokens = secured
    created = await create_session(server.url, "Tidal power", "en", token=tokens["alice"])
    sid = created["session_id"]
    for transport in ("ws", "sse", "poll"):
        async with SessionFollower(server.url, sid, transport, token=tokens["alice"]) as f:
            seqs = [u.event.seq async for u in f if isinstance(u, Applied)]
        assert seqs and seqs == list(range(1, len(seqs) + 1)), transport
    mine = await list_sessions(server.url, token=tokens["alice"])
    assert [s["session_id"] for s in mine] == [sid]
    assert await list_sessions(server.url, token=tokens["bob"]) == []


async def test_no_token_is_unauthorized_and_terminal(
    secured: tuple[ServerProcess, dict[str, str]],
) -> None:
    server, tokens = secured
    created = await create_session(server.url, "Tidal power", "en", token=tokens["alice"])
    with pytest.raises(Unauthorized):
        await list_sessions(server.url)
    for transport in ("ws", "sse", "poll"):
        with pytest.raises(Unauthorized):
            async with SessionFollower(server.url, created["session_id"], transport) as f:
                async for _ in f:
                    pass


def test_tail_takes_the_token_from_tk9_token(
    secured: tuple[ServerProcess, dict[str, str]],
) -> None:
    import asyncio

    server, tokens = secured
    created = asyncio.run(create_session(server.url, "Tidal power", "en", token=tokens["alice"]))
    argv = ["tail", created["session_id"], "--url", server.url, "--json"]
    runner = CliRunner()
    ok = runner.invoke(app, argv, env={"TK9_TOKEN": tokens["alice"]})
    assert ok.exit_code == 0, ok.output
    assert '"research_status"' in ok.output
    refused = runner.invoke(app, argv, env={"TK9_TOKEN": ""})
    assert refused.exit_code == 1
    assert "TK9_TOKEN" in refused.output


async def test_diagnose_takes_a_token(secured: tuple[ServerProcess, dict[str, str]]) -> None:
    from tk9.diagnose.command import run_diagnosis
    from tk9.diagnose.report import Verdict

    server, tokens = secured
    waits = {"heartbeat_wait": 2.0, "idle_wait": 2.0, "sse_wait": 3.0}
    anonymous = await run_diagnosis(server.url, **waits)
    by_name = {r.name: r.verdict for r in anonymous.results}
    assert by_name["health"] is Verdict.PASS and by_name["session"] is not Verdict.PASS
    signed = await run_diagnosis(server.url, token=tokens["alice"], **waits)
    by_name = {r.name: r.verdict for r in signed.results}
    assert by_name["session"] is by_name["websocket"] is by_name["sse"] is Verdict.PASS, (
        signed.render()
    )
