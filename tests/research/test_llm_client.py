"""The streaming chat client against the local OpenAI-compatible stub (real HTTP on loopback).

Waits between retries go through an injected ``sleep`` that records them, so ``Retry-After``
is asserted without waiting; timeouts are configured short.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tk9.errors import ResearchError
from tk9.research.llm_client import (
    ChatClient,
    ModelRejected,
    Timeouts,
    retry_after_seconds,
    without_thinking,
)

from .stubs import StubState, serve_stub


class Sleeps:
    """An injected ``sleep`` that records the waits tenacity asks for and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def stub() -> AsyncIterator[tuple[str, StubState]]:
    state = StubState()
    async with serve_stub(state) as url:
        yield f"{url}/v1", state


def client(url: str, sleeps: Sleeps | None = None, **kwargs: object) -> ChatClient:
    timeouts = kwargs.pop("timeouts", Timeouts(connect=2, read=2, total=10))
    assert isinstance(timeouts, Timeouts)
    attempts = kwargs.pop("attempts", 3)
    assert isinstance(attempts, int)
    return ChatClient(
        url, "m", "key", timeouts, attempts, retry_after_cap=5, sleep=sleeps or Sleeps()
    )


async def test_every_call_streams_with_max_tokens_and_reports_tokens(
    stub: tuple[str, StubState],
) -> None:
    url, state = stub
    state.replies["section"] = ["one two three four five [1]."]
    seen: list[int] = []

    async def on_tokens(n: int) -> None:
        seen.append(n)

    answer = await client(url).chat("sys", "write", 0.3, max_tokens=300, on_tokens=on_tokens)
    assert answer.text == "one two three four five [1]."
    assert answer.finish_reason == "stop" and answer.tokens == 6
    assert seen == [1, 2, 3, 4, 5, 6]
    body = state.requests[0]
    assert body["stream"] is True and body["max_tokens"] == 300 and body["temperature"] == 0.3
    assert "response_format" not in body


async def test_max_tokens_cut_is_reported_as_length(stub: tuple[str, StubState]) -> None:
    url, state = stub
    state.replies["section"] = ["a b c d e f g h"]
    answer = await client(url).chat("sys", "write", max_tokens=3)
    assert answer.text == "a b c" and answer.finish_reason == "length"


async def test_a_slow_stream_is_not_a_timeout(stub: tuple[str, StubState]) -> None:
    """Each chunk comes well within the read timeout though the whole answer takes longer."""
    url, state = stub
    state.chunk_delay = 0.02
    state.replies["section"] = ["w " * 15 + "[1]."]
    timeouts = Timeouts(connect=2, read=0.25, total=10)
    answer = await client(url, timeouts=timeouts).chat("sys", "write")
    assert answer.tokens == 16 and len(state.requests) == 1


async def test_a_stalled_stream_times_out_with_the_cause_and_is_retried(
    stub: tuple[str, StubState],
) -> None:
    url, state = stub
    state.stall_after = 2
    sleeps = Sleeps()
    timeouts = Timeouts(connect=2, read=0.2, total=10)
    with pytest.raises(ResearchError) as caught:
        await client(url, sleeps, timeouts=timeouts, attempts=2).chat("sys", "write")
    message = caught.value.message
    assert f"the model at {url}/chat/completions did not answer within 0.2 s" in message
    assert "(read timeout" in message and message.endswith("after 2 attempts")
    assert len(state.requests) == 2 and len(sleeps.waits) == 1


async def test_the_overall_limit_ends_a_trickling_answer_without_retrying(
    stub: tuple[str, StubState],
) -> None:
    url, state = stub
    state.chunk_delay = 0.05
    state.replies["section"] = ["w " * 100]
    timeouts = Timeouts(connect=2, read=2, total=0.3)
    with pytest.raises(ResearchError, match=r"did not finish its answer within 0.3 s"):
        await client(url, timeouts=timeouts).chat("sys", "write")
    assert len(state.requests) == 1


async def test_429_and_503_honour_retry_after_seconds_and_dates_with_a_cap(
    stub: tuple[str, StubState],
) -> None:
    url, state = stub
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    state.statuses = [
        (429, {"Retry-After": "2"}),
        (503, {"Retry-After": soon}),
        (429, {"Retry-After": "120"}),  # more than the 5 s cap
    ]
    sleeps = Sleeps()
    text = await client(url, sleeps, attempts=4).complete("sys", "write")
    assert "[1]" in text and len(state.requests) == 4
    assert sleeps.waits[0] == 2.0
    assert 1.0 < sleeps.waits[1] <= 3.0
    assert sleeps.waits[2] == 5.0


async def test_500s_until_the_last_attempt_name_status_detail_and_attempts(
    stub: tuple[str, StubState],
) -> None:
    url, state = stub
    state.statuses = [(500, {})] * 3
    sleeps = Sleeps()
    with pytest.raises(ResearchError) as caught:
        await client(url, sleeps).chat("sys", "write")
    assert caught.value.message == (
        f"the model at {url}/chat/completions answered HTTP 500 (scripted) after 3 attempts"
    )
    assert len(sleeps.waits) == 2 and all(w > 0 for w in sleeps.waits)  # exponential back-off


async def test_other_4xx_are_final(stub: tuple[str, StubState]) -> None:
    url, state = stub
    state.statuses = [(400, {"Retry-After": "1"})]
    with pytest.raises(ModelRejected, match="refused the request: HTTP 400") as caught:
        await client(url).chat("sys", "write")
    assert caught.value.status_code == 400 and len(state.requests) == 1


async def test_a_server_that_ignores_stream_still_answers(stub: tuple[str, StubState]) -> None:
    url, state = stub
    state.ignore_stream = True
    assert (await client(url).chat("sys", "write")).text.startswith("Photosynthesis")


async def test_an_unreachable_server_names_the_cause() -> None:
    sleeps = Sleeps()
    with pytest.raises(ResearchError) as caught:
        await client("http://127.0.0.1:9/v1", sleeps, attempts=2).chat("sys", "hi")
    message = caught.value.message
    assert message.startswith("the model at http://127.0.0.1:9/v1/chat/completions could not")
    assert "ConnectError" in message and message.endswith("after 2 attempts")


def test_retry_after_parses_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None) is None


async def test_thinking_tokens_count_as_progress_but_not_text(
    stub: tuple[str, StubState],
) -> None:
    url, state = stub
    state.reasoning_chunks = 3
    state.replies["section"] = ["Plants [1]."]
    seen: list[int] = []

    async def on_tokens(n: int) -> None:
        seen.append(n)

    answer = await client(url).chat("sys", "write", on_tokens=on_tokens)
    assert answer.text == "Plants [1]." and seen == [1, 2, 3, 4, 5]


async def test_an_error_inside_the_stream_is_retried(stub: tuple[str, StubState]) -> None:
    url, state = stub
    state.stream_errors = 1
    sleeps = Sleeps()
    assert "[1]" in (await client(url, sleeps).chat("sys", "write")).text
    assert len(state.requests) == 2 and len(sleeps.waits) == 1
    state.stream_errors = 3
    with pytest.raises(
        ResearchError, match=r"reported an error mid-answer \(slot unavailable\) after 3 attempts"
    ):
        await client(url, sleeps).chat("sys", "write")


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_calls_in_flight_stay_within_the_concurrency(
    stub: tuple[str, StubState], concurrency: int
) -> None:
    """A one-slot llama.cpp queues extra requests silently; the client must not send them."""
    url, state = stub
    state.chunk_delay = 0.01
    state.replies["section"] = ["w " * 10 + "[1]."] * 3
    chat = ChatClient(url, "m", None, Timeouts(2, 2, 10), 1, concurrency=concurrency)
    answers = await asyncio.gather(*(chat.chat("sys", "write") for _ in range(3)))
    assert all(a.tokens == 11 for a in answers)
    if concurrency == 1:
        assert state.max_in_flight == 1
    else:
        assert state.max_in_flight > 1


async def test_a_think_block_in_the_content_is_dropped(stub: tuple[str, StubState]) -> None:
    url, state = stub
    state.replies["section"] = ["<think>\nThe user wants {json}.\n</think>\n\nPlants [1]."]
    assert (await client(url).chat("sys", "write")).text == "Plants [1]."
    assert without_thinking("<think>still thinking when cut off") == ""
    assert without_thinking("Plants <think> [1].") == "Plants <think> [1]."
