"""``tk9 tail``: prints every event of a run once, in order (rich lines or raw JSON lines)."""

from __future__ import annotations

import json

import httpx
import typer
from typer.testing import CliRunner

from tk9.client.tail import describe, tail_command
from tk9.events import Event, EventType

from .conftest import ServerProcess


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("tail")(tail_command)
    app.command("noop")(lambda: None)  # two commands, so "tail" is a subcommand as in tk9.cli
    return app


def start_run(server: ServerProcess) -> str:
    created = httpx.post(f"{server.url}/api/sessions", json={"subject": "Rivers", "language": "en"})
    created.raise_for_status()
    session_id: str = created.json()["session_id"]
    return session_id


def test_tail_json_prints_the_whole_log_once(server: ServerProcess) -> None:
    session_id = start_run(server)
    result = CliRunner().invoke(cli(), ["tail", session_id, "--url", server.url, "--json"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines()]
    snapshot = httpx.get(f"{server.url}/api/sessions/{session_id}").json()
    assert [e["seq"] for e in events] == list(range(1, snapshot["seq"] + 1))
    assert events[-1]["event_type"] == "research_status"
    assert events[-1]["payload"]["status"] == "completed"


def test_tail_prints_one_line_per_event(server: ServerProcess) -> None:
    session_id = start_run(server)
    result = CliRunner().invoke(
        cli(), ["tail", session_id, "--url", server.url, "--transport", "sse"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    snapshot = httpx.get(f"{server.url}/api/sessions/{session_id}").json()
    assert len(lines) == snapshot["seq"]
    assert lines[0].split()[0] == "1"
    assert "Orchestrator" in result.output
    assert "completed 100%" in lines[-1]


def test_tail_unknown_session_fails_cleanly(server: ServerProcess) -> None:
    missing = "00000000-0000-4000-8000-00000000dead"
    result = CliRunner().invoke(cli(), ["tail", missing, "--url", server.url])
    assert result.exit_code == 1
    assert "not found" in result.output


def test_tail_refuses_an_unknown_transport() -> None:
    result = CliRunner().invoke(cli(), ["tail", "x", "--transport", "carrier-pigeon"])
    assert result.exit_code == 2


def _event(event_type: EventType, payload: dict[str, object]) -> Event:
    return Event(seq=1, epoch="e", timestamp=0.0, event_type=event_type, payload=payload)


def test_describe_lists_the_warnings_of_a_completed_with_warnings_run() -> None:
    status = {
        "status": "completed_with_warnings",
        "progress": 100,
        "stage": "Done, with 2 warnings",
        "error": None,
        "warnings": ["only part of the subject", "no translator for vi"],
    }
    line = describe(_event(EventType.RESEARCH_STATUS, status))
    assert line == (
        "completed_with_warnings 100% Done, with 2 warnings"
        " warnings: only part of the subject; no translator for vi"
    )
    coverage = {"score": 0.5, "phrases": [], "sources": [], "summary": "1 of 2 key phrases"}
    assert describe(_event(EventType.COVERAGE, coverage)) == "coverage 0.5: 1 of 2 key phrases"
