"""``tk9 diagnose URL``: check a deployment through its public URL and say what is wrong.

The lead's CLI registers :func:`diagnose_command` (``app.command("diagnose")``). It runs the
checks in order and stops early only when nothing past the failure could work (no health
answer, no session). Exit status 1 when any check fails.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
import typer

from tk9.client.http import auth_headers
from tk9.diagnose.http_checks import Probe, check_health, check_sse, check_target, choose_session
from tk9.diagnose.report import CheckResult, Report, Verdict
from tk9.diagnose.target import parse_target
from tk9.diagnose.ws_checks import (
    check_resume,
    check_upgrade,
    hold_quiet,
    judge_heartbeat,
    judge_idle,
)
from tk9.errors import InvalidInput


async def run_diagnosis(
    url: str,
    *,
    session: str | None = None,
    create: bool = True,
    heartbeat_wait: float | None = None,
    idle_wait: float | None = None,
    sse_wait: float = 3.0,
    timeout: float = 10.0,
    verify: bool = True,
    token: str | None = None,
) -> Report:
    """Every check against ``url``; the report says what passed and what to fix.

    ``token`` (``tk9 tokens create NAME``) is sent as ``Authorization: Bearer`` on every request
    and WebSocket: a deployment with accounts answers 401 without it."""
    target = parse_target(url)
    report = Report(url=target.base)
    report.add(check_target(target))
    headers = auth_headers(token)
    async with httpx.AsyncClient(timeout=timeout, verify=verify, headers=headers) as http:
        probe = Probe(target=target, http=http, timeout=timeout, verify=verify)
        health = report.add(await check_health(probe))
        names = ["session", "websocket", "sse", "resume", "heartbeat", "idle-timeout"]
        if health.verdict is Verdict.FAIL:
            for name in names:
                report.add(CheckResult(name, Verdict.SKIP, "health check failed"))
            return report
        picked, chosen = await choose_session(probe, session, create)
        report.add(picked)
        if chosen is None:
            for name in names[1:]:
                report.add(CheckResult(name, Verdict.SKIP, "no session to probe"))
            return report
        upgrade, hello = await check_upgrade(probe, chosen)
        report.add(upgrade)
        report.add(await check_sse(probe, chosen, sse_wait))
        if hello is None:
            for name in names[3:]:
                report.add(CheckResult(name, Verdict.SKIP, "no WebSocket"))
            return report
        report.add(await check_resume(probe, chosen))
        interval = float(hello["heartbeat_interval"])
        hb_wait = heartbeat_wait if heartbeat_wait is not None else interval + 5.0
        quiet = idle_wait if idle_wait is not None else 2 * interval + 5.0
        held = await hold_quiet(probe, chosen, max(hb_wait, quiet))
        report.add(judge_heartbeat(held, interval, hb_wait))
        report.add(judge_idle(held, interval, max(hb_wait, quiet)))
    return report


def diagnose_command(
    url: Annotated[str, typer.Argument(help="The public base URL, e.g. https://tk9.example.org")],
    session: Annotated[
        str | None, typer.Option(help="Session id to probe (default: newest finished one)")
    ] = None,
    create: Annotated[
        bool, typer.Option(help="Create a probe session when none has finished yet")
    ] = True,
    heartbeat_wait: Annotated[
        float | None,
        typer.Option(help="Seconds to wait for a server ping (default: interval + 5)"),
    ] = None,
    idle_wait: Annotated[
        float | None,
        typer.Option(help="Seconds to hold a quiet WebSocket (default: 2 x interval + 5)"),
    ] = None,
    sse_wait: Annotated[float, typer.Option(help="Seconds the SSE hello may take")] = 3.0,
    timeout: Annotated[float, typer.Option(help="Per-request timeout, seconds")] = 10.0,
    insecure: Annotated[bool, typer.Option(help="Do not verify TLS certificates")] = False,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="TK9_TOKEN",
            help="API token, for a deployment with accounts [env TK9_TOKEN].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check a tk9 deployment through its public URL (proxy, WebSocket, SSE, heartbeat)."""
    try:
        report = asyncio.run(
            run_diagnosis(
                url,
                session=session,
                create=create,
                heartbeat_wait=heartbeat_wait,
                idle_wait=idle_wait,
                sse_wait=sse_wait,
                timeout=timeout,
                verify=not insecure,
                token=token,
            )
        )
    except InvalidInput as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(report.render())
    if report.failed:
        raise typer.Exit(1)
