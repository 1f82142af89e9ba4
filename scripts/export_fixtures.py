"""Write the projection fixtures shared by the Python fold and the TypeScript reducer.

Each ``tests/fixtures/projection/<name>.json`` is one scenario::

    {"name": str, "description": str,
     "initial": <SessionState>, "events": [<Event>, ...],
     "expected": <SessionState>}

``events`` is the sequence *as delivered* (it may hold duplicates and re-deliveries); folding it
into ``initial`` must give ``expected``. Error scenarios also carry ``"expected_error"``
(``"gap"`` or ``"epoch_mismatch"``) and ``"error_at"``: folding must fail on ``events[error_at]``
and ``expected`` is the state after ``events[:error_at]`` (a failing apply changes nothing).

Deterministic: fixed session id, epoch and timestamps. ``tests/projection/test_fixtures.py``
regenerates the files into a temporary directory and fails when they differ from the committed
ones. Usage::

    uv run python scripts/export_fixtures.py            # (re)write the committed fixtures
    uv run python scripts/export_fixtures.py --check    # exit 1 if they are out of date
    uv run python scripts/export_fixtures.py --out DIR  # write elsewhere
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tk9.errors import EpochMismatch, GapError
from tk9.events import (
    AgentName,
    AgentStatus,
    AgentUpdatePayload,
    AgentWork,
    CoveragePayload,
    ErrorPayload,
    Event,
    FileGeneratedPayload,
    FileKind,
    LogLevel,
    LogPayload,
    Payload,
    PhraseCoverage,
    ResearchStatusPayload,
    RunStatus,
    SectionWords,
    SourceRelevance,
    event_type_of,
)
from tk9.projection import apply, initial_state
from tk9.state import MAX_LOG_LINES, SessionState

FIXTURE_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "projection"

SESSION_ID = "3f2a9c1e-7b4d-4e8a-9c61-0d5e2b7a4f10"
EPOCH = "b7e1d2c4-5a6f-4b3e-8d9c-1a2b3c4d5e6f"
OTHER_EPOCH = "0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f"
CREATED_AT = 1_700_000_000.0
STEP = 0.25
"""Seconds between consecutive events (a power of two, so every timestamp prints exactly)."""

A = AgentName
S = AgentStatus


class Stream:
    """Builds one session's event log: seq from 1, timestamps ``CREATED_AT + seq * STEP``."""

    def __init__(self, epoch: str = EPOCH) -> None:
        self.epoch = epoch
        self.events: list[Event] = []

    def add(self, payload: Payload) -> Event:
        seq = len(self.events) + 1
        event = Event(
            seq=seq,
            epoch=self.epoch,
            timestamp=CREATED_AT + seq * STEP,
            event_type=event_type_of(payload),
            payload=payload.model_dump(mode="json"),
        )
        self.events.append(event)
        return event

    def status(
        self,
        status: RunStatus,
        progress: int,
        stage: str,
        error: str | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.add(
            ResearchStatusPayload(
                status=status, progress=progress, stage=stage, error=error, warnings=warnings or []
            )
        )

    def coverage(
        self,
        score: float,
        phrases: list[tuple[str, float]],
        sources: list[tuple[str, float, bool]],
        summary: str,
    ) -> None:
        """phrases: (phrase, score), covered at ≥ 0.5; sources: (title, relevance, cited)."""
        self.add(
            CoveragePayload(
                score=score,
                phrases=[PhraseCoverage(phrase=p, score=v, covered=v >= 0.5) for p, v in phrases],
                sources=[
                    SourceRelevance(title=t, uri=f"wiki:{t}", relevance=r, cited=c)
                    for t, r, c in sources
                ],
                summary=summary,
            )
        )

    def agent(
        self, agent: AgentName, status: AgentStatus, progress: int = 0, msg: str = ""
    ) -> None:
        self.add(AgentUpdatePayload(agent=agent, status=status, progress=progress, message=msg))

    def file(self, name: str, language: str, content: str = "") -> None:
        kind = FileKind(name.rsplit(".", 1)[1])
        data = (content or name).encode()
        self.add(
            FileGeneratedPayload(
                name=name,
                kind=kind,
                language=language,
                size_bytes=len(data) * 100,
                sha256=hashlib.sha256(data).hexdigest(),
                path=f"/api/sessions/{SESSION_ID}/files/{name}",
            )
        )

    def log(
        self, message: str, agent: AgentName | None = None, level: LogLevel = LogLevel.INFO
    ) -> None:
        self.add(LogPayload(level=level, message=message, agent=agent))

    def error(self, code: str, message: str, agent: AgentName | None = None) -> None:
        self.add(ErrorPayload(code=code, message=message, agent=agent))

    def run_agent(
        self, agent: AgentName, work: str, done: str, steps: tuple[int, ...] = ()
    ) -> None:
        """An agent that starts, reports progress at ``steps`` and completes."""
        self.agent(agent, S.RUNNING, 0, work)
        for progress in steps:
            self.agent(agent, S.RUNNING, progress, work)
        self.agent(agent, S.COMPLETED, 100, done)


def _start(stream: Stream) -> None:
    stream.status(RunStatus.RUNNING, 0, "starting")
    stream.agent(A.ORCHESTRATOR, S.RUNNING, 0, "planning the run")
    stream.log("run started", A.ORCHESTRATOR)


def _research(stream: Stream) -> None:
    stream.run_agent(A.BROWSER, "reading first sources", "read 6 sources", (50,))
    stream.status(RunStatus.RUNNING, 15, "browsing done")
    stream.run_agent(A.EDITOR, "outlining", "outline with 4 sections")
    stream.status(RunStatus.RUNNING, 25, "outline ready")
    stream.run_agent(A.RESEARCHER, "researching 4 sections", "4 sections researched", (25, 50, 75))
    stream.log("section 3 cites 5 sources", A.RESEARCHER)
    stream.status(RunStatus.RUNNING, 60, "research done")
    stream.run_agent(A.WRITER, "writing introduction and conclusion", "report written")
    stream.status(RunStatus.RUNNING, 70, "writing done")


def _publish(stream: Stream, stem: str, language: str) -> None:
    for ext in ("md", "pdf", "docx"):
        stream.file(f"{stem}.{ext}", language)


# --- scenarios -----------------------------------------------------------------------------


def full_run() -> tuple[SessionState, list[Event]]:
    """All seven agents complete; three English files, then three translated Spanish ones."""
    stream = Stream()
    _start(stream)
    _research(stream)
    stream.agent(A.PUBLISHER, S.RUNNING, 0, "rendering")
    _publish(stream, "report", "en")
    stream.agent(A.PUBLISHER, S.COMPLETED, 100, "3 files")
    stream.status(RunStatus.RUNNING, 85, "published")
    stream.agent(A.TRANSLATOR, S.RUNNING, 0, "translating to es")
    stream.agent(A.TRANSLATOR, S.RUNNING, 50, "translating to es")
    _publish(stream, "report.es", "es")
    stream.agent(A.TRANSLATOR, S.COMPLETED, 100, "translated")
    stream.agent(A.ORCHESTRATOR, S.COMPLETED, 100, "done")
    stream.status(RunStatus.COMPLETED, 100, "done")
    return _initial(language="es"), stream.events


def failed_run() -> tuple[SessionState, list[Event]]:
    """The Researcher fails; later agents are skipped and the run fails with an error."""
    stream = Stream()
    _start(stream)
    stream.run_agent(A.BROWSER, "reading first sources", "read 6 sources")
    stream.run_agent(A.EDITOR, "outlining", "outline with 4 sections")
    stream.agent(A.RESEARCHER, S.RUNNING, 0, "researching 4 sections")
    stream.agent(A.RESEARCHER, S.RUNNING, 25, "researching 4 sections")
    stream.agent(A.RESEARCHER, S.FAILED, 25, "no sources for section 2")
    stream.error("research_failed", "no sources for section 2", A.RESEARCHER)
    for agent in (A.WRITER, A.PUBLISHER, A.TRANSLATOR):
        stream.agent(agent, S.SKIPPED, 0, "skipped: an earlier agent failed")
    stream.agent(A.ORCHESTRATOR, S.FAILED, 40, "Researcher failed")
    stream.status(RunStatus.FAILED, 40, "research", error="Researcher: no sources for section 2")
    return _initial(language="es"), stream.events


def cancelled_run() -> tuple[SessionState, list[Event]]:
    """Cancelled by the user while the Editor runs: the Editor fails, the rest are skipped."""
    stream = Stream()
    _start(stream)
    stream.run_agent(A.BROWSER, "reading first sources", "read 6 sources")
    stream.agent(A.EDITOR, S.RUNNING, 30, "outlining")
    stream.log("cancel requested", A.ORCHESTRATOR, LogLevel.WARNING)
    stream.agent(A.EDITOR, S.FAILED, 30, "cancelled")
    for agent in (A.RESEARCHER, A.WRITER, A.PUBLISHER, A.TRANSLATOR):
        stream.agent(agent, S.SKIPPED, 0, "cancelled")
    stream.agent(A.ORCHESTRATOR, S.SKIPPED, 20, "cancelled")
    stream.status(RunStatus.CANCELLED, 20, "cancelled by user")
    return _initial(language="es"), stream.events


def translator_skipped() -> tuple[SessionState, list[Event]]:
    """Target language equals the source language: the Translator is skipped, three files."""
    stream = Stream()
    _start(stream)
    _research(stream)
    stream.agent(A.PUBLISHER, S.RUNNING, 0, "rendering")
    _publish(stream, "report", "en")
    stream.agent(A.PUBLISHER, S.COMPLETED, 100, "3 files")
    stream.agent(A.TRANSLATOR, S.SKIPPED, 0, "target language is the source language")
    stream.agent(A.ORCHESTRATOR, S.COMPLETED, 100, "done")
    stream.status(RunStatus.COMPLETED, 100, "done")
    return _initial(language="en"), stream.events


PARTIAL_WARNINGS = [
    "The sources cover 1 of 3 key phrases: nothing on “cold climates” or “defrost cycles”",
    "Spanish was requested but no translator is available: the report is in English",
]


def completed_with_warnings() -> tuple[SessionState, list[Event]]:
    """Partial coverage and no translator: coverage measured, warnings logged as they arise,
    and the run ends ``completed_with_warnings`` listing them (the Translator is skipped)."""
    stream = Stream()
    _start(stream)
    _research(stream)
    stream.log(PARTIAL_WARNINGS[0], A.WRITER, LogLevel.WARNING)
    stream.coverage(
        0.375,
        [("heat pumps", 0.75), ("cold climates", 0.25), ("defrost cycles", 0.0)],
        [("Heat pump", 0.875, True), ("Climate", 0.5, True), ("Pump", 0.25, False)],
        "The sources cover 1 of 3 key phrases",
    )
    stream.agent(A.PUBLISHER, S.RUNNING, 0, "rendering")
    _publish(stream, "report", "en")
    stream.agent(A.PUBLISHER, S.COMPLETED, 100, "3 files")
    stream.agent(A.TRANSLATOR, S.SKIPPED, 0, "no translator for es")
    stream.log(PARTIAL_WARNINGS[1], A.TRANSLATOR, LogLevel.WARNING)
    stream.agent(A.ORCHESTRATOR, S.COMPLETED, 100, "Report published with 2 warnings")
    stream.status(
        RunStatus.COMPLETED_WITH_WARNINGS, 100, "Done, with 2 warnings", warnings=PARTIAL_WARNINGS
    )
    return _initial(language="es"), stream.events


def coverage_replaced() -> tuple[SessionState, list[Event]]:
    """A later coverage event replaces the earlier one whole (phrases and sources too); a
    status without warnings leaves none behind."""
    stream = Stream()
    _start(stream)
    stream.coverage(
        0.25,
        [("heat pumps", 0.5), ("cold climates", 0.0)],
        [("Pump", 0.25, True)],
        "The sources cover 1 of 2 key phrases",
    )
    stream.status(RunStatus.RUNNING, 50, "rewriting", warnings=[])
    stream.coverage(
        1.0,
        [("heat pumps", 1.0), ("cold climates", 0.75)],
        [("Heat pump", 0.875, True), ("Cold climate", 0.75, True)],
        "The sources cover 2 of 2 key phrases",
    )
    stream.agent(A.ORCHESTRATOR, S.COMPLETED, 100, "Report published")
    stream.status(RunStatus.COMPLETED, 100, "Done")
    return _initial(language="en"), stream.events


def duplicates_interleaved() -> tuple[SessionState, list[Event]]:
    """At-least-once delivery: events repeated back to back and earlier prefixes re-delivered."""
    _, log = translator_skipped()
    last = len(log)
    order = [1, 2, 2, 3, 1, 2, 3, 4, 5, 5, 5, 4]
    order += [*range(6, 20), *range(10, 25), 24, 24]
    order += [*range(25, last + 1), last, 1, last - 3]
    return _initial(language="en"), [log[seq - 1] for seq in order]


def file_reannounced() -> tuple[SessionState, list[Event]]:
    """A file announced again (same content, then rewritten) replaces its entry in place."""
    stream = Stream()
    _start(stream)
    stream.agent(A.PUBLISHER, S.RUNNING, 0, "rendering")
    stream.file("report.md", "en")
    stream.file("report.pdf", "en")
    stream.file("report.md", "en")
    stream.file("report.docx", "en")
    stream.file("report.pdf", "en", content="report.pdf, rendered again")
    stream.agent(A.PUBLISHER, S.COMPLETED, 100, "3 files")
    return _initial(language="en"), stream.events


def log_truncation() -> tuple[SessionState, list[Event]]:
    """More than MAX_LOG_LINES log and error lines: only the last MAX_LOG_LINES are kept."""
    stream = Stream()
    _start(stream)
    agents = list(AgentName)
    for index in range(MAX_LOG_LINES + 20):
        if index % 100 == 99:
            stream.error("source_unreachable", f"source {index} timed out", A.BROWSER)
        else:
            level = (LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARNING)[index % 3]
            agent = agents[index % len(agents)] if index % 5 else None
            stream.log(f"line {index}", agent, level)
    stream.status(RunStatus.RUNNING, 10, "still browsing")
    return _initial(language="en"), stream.events


def regressive_update_ignored() -> tuple[SessionState, list[Event]]:
    """Out-of-date agent updates never move a card backwards; updates while running apply."""
    stream = Stream()
    _start(stream)
    stream.agent(A.BROWSER, S.RUNNING, 10, "reading")
    stream.agent(A.BROWSER, S.RUNNING, 60, "reading more")
    stream.agent(A.BROWSER, S.COMPLETED, 80, "read 6 sources")
    stream.agent(A.BROWSER, S.RUNNING, 90, "stale: reading")
    stream.agent(A.BROWSER, S.PENDING, 0, "stale: waiting")
    stream.agent(A.BROWSER, S.FAILED, 0, "stale: final is final")
    stream.agent(A.EDITOR, S.RUNNING, 40, "outlining")
    stream.agent(A.EDITOR, S.PENDING, 0, "stale: waiting")
    stream.agent(A.EDITOR, S.RUNNING, 70, "outline nearly done")
    stream.agent(A.RESEARCHER, S.SKIPPED, 0, "nothing to research")
    stream.agent(A.RESEARCHER, S.RUNNING, 5, "stale: researching")
    stream.status(RunStatus.RUNNING, 30, "outlining")
    return _initial(language="en"), stream.events


def resume_from_snapshot() -> tuple[SessionState, list[Event]]:
    """A viewer holding a snapshot at seq 20 is sent the tail again from seq 15 (overlap)."""
    _, log = full_run()
    snapshot = _initial(language="es")
    for event in log[:20]:
        snapshot = apply(snapshot, event)
    return snapshot, log[14:]


def gap() -> tuple[SessionState, list[Event]]:
    """Seq 4 is missing: applying seq 5 after seq 3 must fail with a gap."""
    stream = Stream()
    _start(stream)
    stream.run_agent(A.BROWSER, "reading first sources", "read 6 sources")
    return _initial(language="en"), [stream.events[i] for i in (0, 1, 2, 4)]


def epoch_mismatch() -> tuple[SessionState, list[Event]]:
    """After two events of the stream, an event of another epoch (a recreated stream) arrives."""
    stream = Stream()
    _start(stream)
    other = Stream(epoch=OTHER_EPOCH)
    _start(other)
    return _initial(language="en"), [*stream.events[:2], other.events[2]]


def agent_work() -> tuple[SessionState, list[Event]]:
    """What an agent worked on: an update's ``work`` replaces the agent's, one without keeps
    it, and a frozen (final) agent ignores a later one."""
    stream = Stream()
    _start(stream)
    outline = AgentWork(outline=["History", "How it works"])
    stream.add(AgentUpdatePayload(agent=A.EDITOR, status=S.RUNNING, message="outlining"))
    stream.add(AgentUpdatePayload(agent=A.EDITOR, status=S.COMPLETED, message="2", work=outline))
    late = AgentWork(outline=["Never shown"])
    stream.add(AgentUpdatePayload(agent=A.EDITOR, status=S.COMPLETED, message="late", work=late))
    first = AgentWork(sections=[SectionWords(heading="History", words=120)])
    stream.add(AgentUpdatePayload(agent=A.WRITER, status=S.RUNNING, message="writing", work=first))
    stream.agent(A.WRITER, S.RUNNING, 50, "writing the conclusion")
    both = AgentWork(
        sections=[
            SectionWords(heading="History", words=120),
            SectionWords(heading="How it works", words=95),
        ]
    )
    stream.add(AgentUpdatePayload(agent=A.WRITER, status=S.COMPLETED, message="done", work=both))
    engine = AgentWork(engine="Apertium (offline)", language="es")
    stream.add(AgentUpdatePayload(agent=A.TRANSLATOR, status=S.RUNNING, work=engine))
    stream.agent(A.TRANSLATOR, S.COMPLETED, 100, "translated")  # no work: the last one stays
    return _initial(language="es"), stream.events


SCENARIOS: dict[str, Callable[[], tuple[SessionState, list[Event]]]] = {
    "agent_work": agent_work,
    "full_run": full_run,
    "failed_run": failed_run,
    "cancelled_run": cancelled_run,
    "translator_skipped": translator_skipped,
    "completed_with_warnings": completed_with_warnings,
    "coverage_replaced": coverage_replaced,
    "duplicates_interleaved": duplicates_interleaved,
    "file_reannounced": file_reannounced,
    "log_truncation": log_truncation,
    "regressive_update_ignored": regressive_update_ignored,
    "resume_from_snapshot": resume_from_snapshot,
    "gap": gap,
    "epoch_mismatch": epoch_mismatch,
}


def _initial(language: str) -> SessionState:
    return initial_state(
        SESSION_ID,
        EPOCH,
        subject="Heat pumps in cold climates",
        language=language,
        created_at=CREATED_AT,
    )


def build_fixture(name: str) -> dict[str, Any]:
    """Run one scenario through the projection and return its fixture document."""
    scenario = SCENARIOS[name]
    initial, events = scenario()
    fixture: dict[str, Any] = {
        "name": name,
        "description": (scenario.__doc__ or "").strip(),
        "initial": initial.model_dump(mode="json"),
        "events": [event.model_dump(mode="json") for event in events],
    }
    state = initial
    for index, event in enumerate(events):
        try:
            state = apply(state, event)
        except (GapError, EpochMismatch) as exc:
            fixture["expected_error"] = exc.code
            fixture["error_at"] = index
            break
    fixture["expected"] = state.model_dump(mode="json")
    return fixture


def render(fixture: dict[str, Any]) -> str:
    """The exact text written to disk (stable key order, two-space indent, final newline)."""
    return json.dumps(fixture, indent=2, ensure_ascii=False) + "\n"


def export(out_dir: Path) -> list[Path]:
    """Write every fixture into ``out_dir`` and return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SCENARIOS:
        path = out_dir / f"{name}.json"
        path.write_text(render(build_fixture(name)), encoding="utf-8")
        written.append(path)
    return written


def stale(out_dir: Path) -> list[str]:
    """Names of fixture files in ``out_dir`` that are missing, extra or differ from the build."""
    wanted = {f"{name}.json": render(build_fixture(name)) for name in SCENARIOS}
    present = {path.name for path in out_dir.glob("*.json")}
    problems = sorted(present - wanted.keys())
    for file_name, text in wanted.items():
        path = out_dir / file_name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            problems.append(file_name)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=FIXTURE_DIR, help="output directory")
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale(args.out)
        for name in problems:
            print(f"stale projection fixture: {args.out / name}", file=sys.stderr)
        return 1 if problems else 0
    for path in export(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
