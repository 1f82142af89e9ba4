"""``tk9 tail SESSION_ID``: print a session's events live, one line each, surviving disconnects.

:func:`tail_command` is a typer-compatible function; :mod:`tk9.cli` registers it. It follows
the session with :class:`~tk9.client.session.SessionFollower`, so what it prints is exactly
the log, in order, whatever happens to the connection. ``--json`` prints each event (and each
reset, as ``{"reset": snapshot}``) as one raw JSON line for scripts.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from tk9.client.link import Applied, Update
from tk9.client.session import TRANSPORTS, SessionFollower, Transport
from tk9.errors import Tk9Error
from tk9.events import Event, EventType, RunStatus

_STYLE = {
    EventType.RESEARCH_STATUS: "bold cyan",
    EventType.AGENT_UPDATE: "green",
    EventType.FILE_GENERATED: "bold magenta",
    EventType.LOG: "dim",
    EventType.ERROR: "bold red",
    EventType.COVERAGE: "yellow",
}


def describe(event: Event) -> str:
    """A one-line human summary of an event's payload."""
    p = event.payload
    match event.event_type:
        case EventType.RESEARCH_STATUS:
            text = f"{p.get('status')} {p.get('progress')}% {p.get('stage', '')}".rstrip()
            text += f" error: {p['error']}" if p.get("error") else ""
            warnings = p.get("warnings") or []
            return text + (f" warnings: {'; '.join(map(str, warnings))}" if warnings else "")
        case EventType.AGENT_UPDATE:
            message = f" {p['message']}" if p.get("message") else ""
            return f"{p.get('agent')}: {p.get('status')} {p.get('progress')}%{message}"
        case EventType.FILE_GENERATED:
            return f"{p.get('name')} ({p.get('kind')}, {p.get('size_bytes')} B) {p.get('path')}"
        case EventType.LOG:
            agent = f"{p['agent']}: " if p.get("agent") else ""
            return f"[{p.get('level')}] {agent}{p.get('message')}"
        case EventType.ERROR:
            agent = f"{p['agent']}: " if p.get("agent") else ""
            return f"{agent}{p.get('code')}: {p.get('message')}"
        case EventType.COVERAGE:
            return f"coverage {p.get('score')}: {p.get('summary', '')}".rstrip(": ")


def render(update: Update, console: Console, as_json: bool) -> None:
    """Print one update: a rich line, or a raw JSON line with ``as_json``."""
    if isinstance(update, Applied):
        event = update.event
        if as_json:
            console.out(event.model_dump_json(), highlight=False)
            return
        when = datetime.fromtimestamp(event.timestamp, UTC).strftime("%H:%M:%S")
        style = _STYLE[event.event_type]
        if event.payload.get("status") == RunStatus.COMPLETED_WITH_WARNINGS.value:
            style = "bold yellow"
        console.print(
            f"[dim]{event.seq:>6} {when}[/] [{style}]{event.event_type.value:<15}[/] "
            f"{escape(describe(event))}",
            highlight=False,
        )
        return
    snapshot = update.snapshot
    if as_json:
        console.out(jsonlib.dumps({"reset": snapshot.model_dump(mode="json")}), highlight=False)
        return
    console.print(
        f"[bold yellow]reset ({escape(update.reason)}):[/] state replaced by the snapshot at "
        f"seq {snapshot.seq}, status {snapshot.status.value} {snapshot.progress}%",
        highlight=False,
    )


async def tail(
    session_id: str,
    url: str,
    transport: Transport,
    as_json: bool,
    follow: bool,
    console: Console,
    token: str | None = None,
) -> None:
    """Follow ``session_id`` and print every update until the run is finished."""
    async with SessionFollower(
        url, session_id, transport, stop_when_finished=not follow, token=token
    ) as f:
        async for update in f:
            render(update, console, as_json)


def tail_command(
    session_id: Annotated[str, typer.Argument(help="The session to follow (a UUID).")],
    url: Annotated[
        str, typer.Option("--url", help="Base URL of the tk9 server.")
    ] = "http://127.0.0.1:8000",
    transport: Annotated[str, typer.Option("--transport", "-t", help="ws | sse | poll")] = "ws",
    json: Annotated[
        bool, typer.Option("--json", help="Print each event as one raw JSON line.")
    ] = False,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Keep following after the run has finished."),
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="TK9_TOKEN",
            help="API token (tk9 tokens create NAME) [env TK9_TOKEN].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print a session's events live, resuming from the last one after any disconnect."""
    if transport not in TRANSPORTS:
        raise typer.BadParameter(
            f"must be one of {', '.join(TRANSPORTS)}", param_hint="--transport"
        )
    console = Console(soft_wrap=True)
    try:
        asyncio.run(tail(session_id, url, transport, json, follow, console, token))
    except Tk9Error as exc:
        Console(stderr=True).print(f"[red]error:[/] {escape(exc.message)}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
