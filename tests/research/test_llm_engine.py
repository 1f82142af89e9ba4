"""The LLM engine's checks and fallbacks, against the local OpenAI-compatible stub.

Invalid JSON outlines, echoed prompts and sections citing nothing are scripted on the stub;
progress throttling runs on an injected clock. One end-to-end run shows the fallbacks surface
as warnings and the streaming progress on the agent cards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tk9.events import AgentName, AgentStatus, EventType, LogLevel, RunStatus
from tk9.log.memory import MemoryEventLog
from tk9.research.documents import Document
from tk9.research.extractive import ExtractiveEngine
from tk9.research.llm import SYSTEM, Limits, LLMEngine, numbered
from tk9.research.llm_checks import echo_ratio, parse_outline, section_problem, trim_to_sentence
from tk9.research.llm_client import ChatClient, Timeouts
from tk9.research.runner import run_research
from tk9.settings import Settings

from .conftest import CORPUS, all_events, new_session
from .stubs import ECHO, StubState, serve_stub

EVIDENCE = [
    Document("u:photo", "Photosynthesis", CORPUS["photosynthesis.md"].split("\n", 2)[2]),
    Document("u:chloro", "Chlorophyll", CORPUS["chlorophyll.md"].split("\n", 2)[2]),
]
GOOD = "Plants turn light into sugar [1]. Chlorophyll absorbs the light [2]."


class Recorder:
    """A :class:`~tk9.research.llm_progress.Reporter` that keeps what the engine reported."""

    def __init__(self) -> None:
        self.updates: list[tuple[AgentName, int, str]] = []
        self.warnings: list[tuple[str, AgentName | None]] = []

    async def agent(
        self, agent: AgentName, status: AgentStatus, progress: int = 0, message: str = ""
    ) -> None:
        assert status == AgentStatus.RUNNING
        self.updates.append((agent, progress, message))

    async def warn(self, message: str, agent: AgentName | None = None) -> None:
        self.warnings.append((message, agent))


class Clock:
    """Advances by ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
async def stub() -> AsyncIterator[tuple[str, StubState]]:
    state = StubState()
    async with serve_stub(state) as url:
        yield f"{url}/v1", state


def engine(
    url: str, recorder: Recorder | None = None, clock: Clock | None = None, attempts: int = 1
) -> LLMEngine:
    timeouts = Timeouts(connect=2, read=2, total=10)
    client = ChatClient(url, "stub-model", None, timeouts, attempts)
    return LLMEngine(
        client,
        Limits(outline_tokens=100, section_tokens=400),
        reporter=recorder,
        progress_interval=1.0,
        clock=clock or Clock(0.0),
    )


# --- pure checks ----------------------------------------------------------------------


def test_outline_parsing_accepts_chatty_json_and_refuses_the_rest() -> None:
    chatty = 'Sure! ```json\n{"title": "T", "sections": ["A", {"title": "B"}, " "]}\n```'
    outline = parse_outline(chatty, "subject", 5)
    assert outline is not None and outline.title == "T" and outline.sections == ("A", "B")
    assert parse_outline('{"sections": ["A", "B", "C"]}', "s", 2) == parse_outline(
        '{"title": "s", "sections": ["A", "B"]}', "s", 2
    )
    for bad in ("Here are my sections: A, B", '{"title": "T"}', '{"sections": []}', "[1, 2]"):
        assert parse_outline(bad, "s", 5) is None


def test_a_section_that_repeats_the_prompt_or_cites_nothing_is_refused() -> None:
    instruction = (
        "Report subject: photosynthesis\nSection: Light\n\n"
        "Write this section in two or three paragraphs, citing the evidence as [n]."
    )
    echo = instruction + "\n\nEvidence:\n[1] Photosynthesis\nPlants make sugar [1]."
    assert echo_ratio(echo, instruction) == 1.0
    assert section_problem(echo, (SYSTEM, instruction), 2) == (
        "repeated the prompt instead of writing the section"
    )
    assert echo_ratio(GOOD, instruction) == 0.0
    assert section_problem(GOOD, (SYSTEM, instruction), 2) is None
    assert section_problem("Plants are green.", (instruction,), 2) == "cited none of its sources"
    assert section_problem("Plants [7]. Moon [9].", (instruction,), 2) == (
        "cited only sources that do not exist ([7], [9])"
    )


def test_an_answer_cut_at_max_tokens_loses_its_unfinished_sentence() -> None:
    assert trim_to_sentence("Plants are green [1]. Light is absor") == "Plants are green [1]."
    assert trim_to_sentence("Plants are green [1]") == "Plants are green [1]"


# --- the engine against the stub ------------------------------------------------------


async def test_every_step_sends_its_own_max_tokens(stub: tuple[str, StubState]) -> None:
    url, state = stub
    llm = engine(url)
    await llm.outline("photosynthesis", EVIDENCE, 3)
    await llm.section("photosynthesis", "Light", EVIDENCE)
    await llm.introduction("photosynthesis", EVIDENCE)
    await llm.conclusion("photosynthesis", [("Light", GOOD)], 2)
    assert [r["max_tokens"] for r in state.requests] == [100, 400, 400, 400]
    assert all(r["stream"] is True for r in state.requests)
    assert state.requests[0]["temperature"] == 0.0


async def test_invalid_json_outline_is_asked_again_strictly(stub: tuple[str, StubState]) -> None:
    url, state = stub
    state.replies["outline"] = ["Light reactions, then the Calvin cycle."]
    recorder = Recorder()
    outline = await engine(url, recorder).outline("photosynthesis", EVIDENCE, 3)
    assert outline.sections == ("Light reactions", "The Calvin cycle")
    second = state.requests[1]
    assert second["response_format"] == {"type": "json_object"}
    assert "not valid JSON" in second["messages"][-1]["content"]
    assert recorder.warnings == []


async def test_outline_falls_back_to_extractive_after_two_invalid_answers(
    stub: tuple[str, StubState],
) -> None:
    """The server also refuses ``response_format``: the strict retry goes without it."""
    url, state = stub
    state.reject_response_format = True
    state.replies["outline"] = ["not json", "{still not json"]
    recorder = Recorder()
    llm = engine(url, recorder)
    outline = await llm.outline("photosynthesis", EVIDENCE, 3)
    assert outline == await ExtractiveEngine().outline("photosynthesis", EVIDENCE, 3)
    assert [("response_format" in r) for r in state.requests] == [False, True, False]
    [(message, agent)] = recorder.warnings
    assert agent == AgentName.EDITOR and "planned extractively" in message
    assert "the outline" in llm.note and "selected from the cited sources" in llm.note


async def test_an_echoed_section_is_retried_then_accepted(stub: tuple[str, StubState]) -> None:
    url, state = stub
    state.replies["section"] = [ECHO, GOOD]
    recorder = Recorder()
    draft = await engine(url, recorder).section("photosynthesis", "Light", EVIDENCE)
    assert draft.body == GOOD and draft.evidence == tuple(EVIDENCE)
    assert "repeated the prompt" in state.requests[1]["messages"][-1]["content"]
    assert recorder.warnings == []


@pytest.mark.parametrize(
    "replies",
    [[ECHO, ECHO], ["No citations here.", "Still none."], ["Moon [42].", "Mars [9]."]],
    ids=["echo", "no-citation", "invalid-only"],
)
async def test_a_section_refused_twice_is_written_extractively(
    stub: tuple[str, StubState], replies: list[str]
) -> None:
    url, state = stub
    state.replies["section"] = list(replies)
    recorder = Recorder()
    llm = engine(url, recorder)
    draft = await llm.section("photosynthesis", "Chlorophyll", EVIDENCE)
    expected = await ExtractiveEngine().section("photosynthesis", "Chlorophyll", EVIDENCE)
    assert draft == expected and len(state.requests) == 2
    [(message, agent)] = recorder.warnings
    assert agent == AgentName.RESEARCHER and "“Chlorophyll” was refused twice" in message
    assert "“Chlorophyll”" in llm.note


async def test_an_echoed_introduction_and_conclusion_fall_back(
    stub: tuple[str, StubState],
) -> None:
    url, state = stub
    state.replies["introduction"] = [ECHO, ECHO]
    state.replies["conclusion"] = [ECHO]
    recorder = Recorder()
    llm = engine(url, recorder)
    intro = await llm.introduction("photosynthesis", EVIDENCE)
    assert intro == await ExtractiveEngine().introduction("photosynthesis", EVIDENCE)
    sections = [("Light", GOOD)]
    conclusion = await llm.conclusion("photosynthesis", sections, 2)
    assert conclusion == await ExtractiveEngine().conclusion("photosynthesis", sections, 2)
    assert [agent for _, agent in recorder.warnings] == [AgentName.WRITER, AgentName.WRITER]


async def test_streaming_progress_is_throttled(stub: tuple[str, StubState]) -> None:
    """60 tokens read on a clock that moves 0.25 s a read, 1 s apart: ~15 updates, not 60."""
    url, state = stub
    state.replies["introduction"] = [" ".join(["light"] * 59) + " [1]."]
    recorder = Recorder()
    await engine(url, recorder, Clock(0.25)).introduction("photosynthesis", EVIDENCE)
    assert 10 <= len(recorder.updates) <= 16
    agents = {agent for agent, _, _ in recorder.updates}
    assert agents == {AgentName.WRITER}
    assert recorder.updates[0][2] == "Writing the introduction — 4 tokens"
    percents = [p for _, p, _ in recorder.updates]
    assert percents == sorted(percents) and percents[-1] <= 49  # the introduction's half


async def test_a_run_shows_progress_and_ends_with_warnings_after_a_fallback(
    stub: tuple[str, StubState], settings: Settings, log: MemoryEventLog, tmp_path: Path
) -> None:
    url, state = stub
    state.chunk_delay = 0.01
    state.replies["outline"] = ["no json", "no json either"]
    state.replies["introduction"] = [" ".join(["Plants"] * 30) + " make sugar [1]."]
    llm_settings = settings.model_copy(
        update={
            "engine": "llm",
            "llm_base_url": url,
            "llm_model": "stub-model",
            "llm_api_key": SecretStr("k"),
            "llm_progress_interval": 0.05,
        }
    )
    session_id = await new_session(log)
    status = await run_research(log, session_id, "photosynthesis", "en", llm_settings, tmp_path)
    assert status == RunStatus.COMPLETED_WITH_WARNINGS
    events = await all_events(log, session_id)
    writer = [
        e.payload["message"]
        for e in events
        if e.event_type == EventType.AGENT_UPDATE and e.payload["agent"] == "Writer"
    ]
    assert any(m.startswith("Writing the introduction — ") for m in writer)
    assert len([m for m in writer if "tokens" in m]) < 30  # throttled, not one per token
    warnings = [
        e.payload["message"]
        for e in events
        if e.event_type == EventType.LOG and e.payload["level"] == LogLevel.WARNING
    ]
    assert any("planned extractively" in w for w in warnings)
    report = (tmp_path / "photosynthesis.md").read_text()
    assert "selected from the cited sources instead" in report


async def test_section_progress_follows_the_sections_finished(
    stub: tuple[str, StubState],
) -> None:
    """Sections stream in parallel: their card shows the share of sections done, not tokens."""
    url, state = stub
    state.replies["section"] = [" ".join(["leaf"] * 20) + " [1].", GOOD]
    recorder = Recorder()
    llm = engine(url, recorder, Clock(1.0))
    llm.planned = 2
    await llm.section("photosynthesis", "Leaves", EVIDENCE)
    await llm.section("photosynthesis", "Light", EVIDENCE)
    leaves = {p for _, p, m in recorder.updates if "“Leaves”" in m}
    light = {p for _, p, m in recorder.updates if "“Light”" in m}
    assert leaves == {0} and light == {50}
    assert {a for a, _, _ in recorder.updates} == {AgentName.RESEARCHER}


async def test_a_retry_is_shown_on_the_card(stub: tuple[str, StubState]) -> None:
    url, state = stub
    state.statuses = [(429, {"Retry-After": "0"})]
    recorder = Recorder()
    await engine(url, recorder, attempts=2).introduction("photosynthesis", EVIDENCE)
    assert recorder.updates[0] == (
        AgentName.WRITER,
        0,
        "Writing the introduction — the model answered HTTP 429; retrying in 0 s (attempt 2 of 2)",
    )


async def test_a_section_waiting_for_the_model_says_so(stub: tuple[str, StubState]) -> None:
    url, state = stub
    state.chunk_delay = 0.01
    recorder = Recorder()
    llm = engine(url, recorder)
    await asyncio.gather(
        llm.section("photosynthesis", "Leaves", EVIDENCE),
        llm.section("photosynthesis", "Light", EVIDENCE),
    )
    waiting = [m for _, _, m in recorder.updates if m.endswith("finish another answer")]
    assert len(waiting) == 1 and state.max_in_flight == 1


def test_pasting_the_evidence_block_back_is_an_echo_but_quoting_is_not() -> None:
    prompt = f"Report subject: photosynthesis\n\nEvidence:\n{numbered(EVIDENCE)}\n\nWrite."
    pasted = numbered(EVIDENCE[:1])
    assert section_problem(pasted, ("Write.",), 2, prompt) == (
        "repeated the prompt instead of writing the section"
    )
    quoted = (
        "Photosynthesis is the process by which green plants, algae and some bacteria "
        "convert light energy into chemical energy stored in sugars [1]."
    )
    assert section_problem(quoted, ("Write.",), 2, prompt) is None


async def test_a_stalled_model_fails_the_run_with_the_cause(
    stub: tuple[str, StubState], settings: Settings, log: MemoryEventLog, tmp_path: Path
) -> None:
    url, state = stub
    state.stall_after = 1
    llm_settings = settings.model_copy(
        update={
            "engine": "llm",
            "llm_base_url": url,
            "llm_model": "stub-model",
            "llm_read_timeout": 0.2,
            "llm_attempts": 2,
            "llm_retry_after_max": 0.0,
        }
    )
    session_id = await new_session(log)
    status = await run_research(log, session_id, "photosynthesis", "en", llm_settings, tmp_path)
    assert status == RunStatus.FAILED
    events = await all_events(log, session_id)
    final = events[-1].payload
    assert final["error"] == (
        f"Editor failed: the model at {url}/chat/completions did not answer within 0.2 s "
        "(read timeout: no data for that long) after 2 attempts"
    )
    assert len(state.requests) == 2
