"""The LLM engine and the web-search providers against local HTTP stubs; citation checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tk9.errors import ResearchError
from tk9.events import EventType, RunStatus
from tk9.log.memory import MemoryEventLog
from tk9.research.citations import ReferenceRegistry, check_citations
from tk9.research.documents import Document
from tk9.research.llm_client import ChatClient
from tk9.research.runner import run_research
from tk9.research.search import WebSearch
from tk9.settings import Settings

from .conftest import all_events, new_session
from .stubs import StubState, markers, serve_stub


@pytest.fixture
async def stub() -> AsyncIterator[tuple[str, StubState]]:
    state = StubState()
    async with serve_stub(state) as url:
        yield url, state


def test_citation_check_keeps_valid_markers_and_drops_invented_ones() -> None:
    check = check_citations("Sugar comes from light [1]. The moon is cheese [7]. Air [2][1].", 2)
    assert check.text == "Sugar comes from light [1]. The moon is cheese. Air [2][1]."
    assert check.cited == (1, 2) and check.invalid == (7,)
    assert check_citations("No evidence at all [1].", 0).invalid == (1,)


def test_registry_renumbers_sections_into_one_reference_list() -> None:
    a, b, c = (Document(f"u:{n}", n, "") for n in "abc")
    registry = ReferenceRegistry()
    assert registry.renumber("x [2] y [1]", [a, b]) == "x [1] y [2]"
    assert registry.renumber("z [1] w [2] q [9]", [c, a]) == "z [3] w [2] q "
    assert [d.uri for d in registry.documents] == ["u:b", "u:a", "u:c"]


async def test_llm_engine_writes_the_report_and_its_citations_are_checked(
    stub: tuple[str, StubState], settings: Settings, log: MemoryEventLog, tmp_path: Path
) -> None:
    url, state = stub
    llm_settings = settings.model_copy(
        update={
            "engine": "llm",
            "llm_base_url": f"{url}/v1",
            "llm_model": "stub-model",
            "llm_api_key": SecretStr("k"),
        }
    )
    session_id = await new_session(log)
    out = tmp_path / "o"
    # "vi" has no Apertium pair here, so the LLM translates
    status = await run_research(log, session_id, "photosynthesis", "vi", llm_settings, out)
    assert status == RunStatus.COMPLETED
    events = await all_events(log, session_id)
    warnings = [e.payload["message"] for e in events if e.event_type == EventType.LOG]
    assert any("pointed at no source: [42]" in w for w in warnings)
    english = (out / "photosynthesis-in-brief.md").read_text()
    assert "[42]" not in english and "stub-model" in english
    body = english.split("## References")[0]
    refs = english.split("## References")[1]
    assert max(markers(body)) <= refs.count("\n") and "## Light reactions" in english
    translated = (out / "photosynthesis-in-brief.vi.md").read_text()
    assert translated.startswith("[traducido]") and "Introducción" in translated
    translator = [
        e.payload
        for e in events
        if e.event_type == EventType.AGENT_UPDATE and e.payload["agent"] == "Translator"
    ][-1]
    assert translator["status"] == "completed" and "language model" in translator["message"]
    assert {r["model"] for r in state.requests} == {"stub-model"}


async def test_llm_client_retries_server_errors(stub: tuple[str, StubState]) -> None:
    url, state = stub
    state.fail_next = 2
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = ChatClient(f"{url}/v1", "m", None, timeout=10, attempts=3, sleep=sleep)
    assert "[1]" in await client.complete("sys", "write")
    assert len(waits) == 2
    assert len(state.requests) == 3
    state.fail_next = 5
    with pytest.raises(ResearchError, match="HTTP 503"):
        await client.complete("sys", "write")


async def test_llm_client_reports_an_unreachable_endpoint() -> None:
    client = ChatClient("http://127.0.0.1:9/v1", "m", None, timeout=2, attempts=1)
    with pytest.raises(ResearchError, match="could not be reached"):
        await client.complete("sys", "hi")


@pytest.mark.parametrize("provider", ["tavily", "brave"])
async def test_search_providers(stub: tuple[str, StubState], provider: str) -> None:
    url, state = stub
    search = WebSearch(provider, "secret-key", url)
    docs = await search.search("photosynthesis", 5)
    assert [d.uri for d in docs] == [
        "https://example.org/photosynthesis",
        "https://example.org/leaves",
    ]
    assert "chloroplasts" in docs[0].body
    sent = state.search_headers[-1]
    assert "secret-key" in (sent.get("authorization", "") + sent.get("x-subscription-token", ""))


async def test_a_run_can_use_web_search_alone(
    stub: tuple[str, StubState], log: MemoryEventLog, tmp_path: Path
) -> None:
    url, _ = stub
    settings = Settings(
        data_dir=tmp_path / "data",
        use_wiki_corpus=False,
        search_provider="tavily",
        search_api_key=SecretStr("k"),
        search_base_url=url,
        max_sections=2,
        _env_file=None,  # type: ignore[call-arg]
    )
    session_id = await new_session(log)
    status = await run_research(log, session_id, "photosynthesis", "en", settings, tmp_path / "o")
    assert status == RunStatus.COMPLETED
    report = next((tmp_path / "o").glob("*.md")).read_text()
    assert "https://example.org/photosynthesis" in report
