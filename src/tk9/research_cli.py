"""``tk9 research "subject" --language es``: run the pipeline in-process with a live display.

A thin driver (it lives outside the research package): the session is created and its outcome
recorded through :class:`tk9.sessions.SessionService`, like the API's, in the same event log as
the server's (SQLite under the data directory by default) — a server running on the same data
directory lists the session and streams it live while it runs. The display is a fold of the log
(:func:`tk9.projection.fold`) — the same projection every viewer uses — drawn with rich.

Exit codes (:data:`EXIT_CODES`): 0 completed, 1 failed/cancelled/interrupted, 2 bad input or
configuration, 3 completed with warnings (the report exists but is incomplete; the warnings
are printed, and listed in ``--json``'s ``warnings``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from tk9.errors import InvalidInput
from tk9.events import AgentStatus, RunStatus
from tk9.log.base import EventLog
from tk9.log.factory import make_event_log
from tk9.projection import fold, initial_state
from tk9.research.outcome import outcome, status_words
from tk9.research.retrieval import check_corpus
from tk9.research.runner import run_research
from tk9.research.translate import route_here
from tk9.research.validate import validate_request
from tk9.sessions import SessionService
from tk9.settings import Settings
from tk9.state import SessionState

STYLES = {
    AgentStatus.PENDING: "dim",
    AgentStatus.RUNNING: "bold cyan",
    AgentStatus.COMPLETED: "green",
    AgentStatus.FAILED: "bold red",
    AgentStatus.SKIPPED: "yellow",
}
RUN_STYLES = {
    RunStatus.RUNNING: "bold cyan",
    RunStatus.COMPLETED: "bold green",
    RunStatus.COMPLETED_WITH_WARNINGS: "bold yellow",
    RunStatus.FAILED: "bold red",
    RunStatus.CANCELLED: "yellow",
    RunStatus.INTERRUPTED: "yellow",
}

EXIT_CODES = {
    RunStatus.COMPLETED: 0,
    RunStatus.FAILED: 1,
    RunStatus.CANCELLED: 1,
    RunStatus.INTERRUPTED: 1,
    RunStatus.COMPLETED_WITH_WARNINGS: 3,
}
"""Exit code per final status; 2 is bad input (before any run) and anything else is 1."""


def research_command(
    subject: Annotated[str, typer.Argument(help="What to research (3 to 1000 characters)")],
    language: Annotated[
        str, typer.Option("--language", "-l", help="Target language, ISO 639-1 code")
    ] = "en",
    corpus: Annotated[
        Path | None,
        typer.Option(help="Folder of .md/.txt/.html/.pdf documents [env TK9_CORPUS_DIR]"),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the final snapshot as JSON instead")
    ] = False,
    data_dir: Annotated[
        Path | None, typer.Option(help="Where all state lives [env TK9_DATA_DIR, default ./data]")
    ] = None,
    sections: Annotated[
        int | None, typer.Option(help="Most sections in the report [env TK9_MAX_SECTIONS]")
    ] = None,
) -> None:
    """Research a subject with the seven agents and publish the report."""
    overrides: dict[str, Any] = {
        k: v
        for k, v in {"data_dir": data_dir, "corpus_dir": corpus, "max_sections": sections}.items()
        if v is not None
    }
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        typer.echo("invalid configuration:\n" + "\n".join(lines), err=True)
        raise typer.Exit(2) from None
    try:
        subject, language = validate_request(subject, language)
        check_corpus(settings)
    except InvalidInput as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    route = asyncio.run(route_here(language, llm_configured=settings.engine == "llm"))
    if route.method == "none":  # said before the run, not only in its final warnings
        typer.echo(f"warning: {route.how}", err=True)
    console = Console(stderr=json_output)
    state = asyncio.run(_research(settings, subject, language, console, live=not json_output))
    output_dir = settings.outputs_dir / state.session_id
    if json_output:
        snapshot = state.model_dump(mode="json")
        for entry in snapshot["files"]:
            entry["disk_path"] = str((output_dir / entry["name"]).resolve())
        sys.stdout.write(json.dumps(snapshot, indent=2, ensure_ascii=False) + "\n")
    else:
        for file in state.files:
            console.print(f"[green]{file.kind.value:>4}[/] {output_dir / file.name}")
        console.print(outcome(state))
    code = EXIT_CODES.get(state.status, 1)
    if code:
        raise typer.Exit(code)


async def _research(
    settings: Settings, subject: str, language: str, console: Console, live: bool
) -> SessionState:
    log = make_event_log(settings)
    await log.open()
    try:
        session_id = str(uuid.uuid4())
        # owned by "cli": a server starting meanwhile must not close this live run as its own
        sessions = SessionService(log, "cli")
        info = await sessions.create(session_id, subject, language)
        state = initial_state(session_id, info.epoch, subject=subject, language=language)
        run = asyncio.create_task(
            run_research(
                log, session_id, subject, language, settings, settings.outputs_dir / session_id
            )
        )
        try:
            if live:
                with Live(render(state), console=console, refresh_per_second=8) as display:
                    state = await _follow(log, state, run, lambda s: display.update(render(s)))
            else:
                state = await _follow(log, state, run, lambda s: None)
            await run
        finally:
            if not run.done():  # Ctrl-C: the run records "cancelled" before we close the log
                run.cancel()
                await asyncio.gather(run, return_exceptions=True)
            await sessions.record(state)
        return state
    finally:
        await log.close()


async def _follow(
    log: EventLog, state: SessionState, run: asyncio.Task[RunStatus], show: Any
) -> SessionState:
    """Fold the session's events as they are appended until the run has ended."""
    while True:
        await log.wait(state.session_id, state.seq, timeout=0.25)
        events = await log.read(state.session_id, state.seq, 500)
        if events:
            state = fold(events, state)
            show(state)
        elif run.done():  # nothing left to read and nothing more will come
            return state


def render(state: SessionState) -> Group:
    """The seven agent cards as a table, under the run's status line."""
    head = Text.assemble(
        ("tk9 research ", "bold"),
        f"“{state.subject}” → {state.language}  ",
        (f"{status_words(state.status)} {state.progress}%", RUN_STYLES.get(state.status, "")),
        (f"  {state.stage}", "dim"),
    )
    table = Table(show_header=True, header_style="bold", expand=True)
    table.add_column("Agent", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Progress", width=22)
    table.add_column("Message", overflow="fold", ratio=1)
    for name, agent in state.agents.items():
        style = STYLES[agent.status]
        table.add_row(
            name.value,
            Text(agent.status.value, style=style),
            ProgressBar(total=100, completed=agent.progress, width=20),
            agent.message,
        )
    return Group(head, table)
