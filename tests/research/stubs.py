"""Local HTTP stubs: an OpenAI-compatible chat-completions server and Tavily/Brave search.

A real Starlette app served by uvicorn on a free loopback port, so the engine's httpx client,
streaming, timeouts, retries and JSON handling run for real. ``StubState`` scripts the
server's behaviour (slow or stalled streams, invalid JSON, echoed prompts, 429/500 with
``Retry-After``, refusing ``response_format``) and records every request body it received.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

SEARCH_RESULTS = [
    {
        "url": "https://example.org/photosynthesis",
        "title": "Photosynthesis explained",
        "content": "Photosynthesis turns sunlight, water and carbon dioxide into sugar and "
        "oxygen inside the chloroplasts of plant cells. Photosynthesis powers nearly all "
        "food chains on the planet.",
    },
    {
        "url": "https://example.org/leaves",
        "title": "Why leaves are green",
        "content": "Leaves are green because chlorophyll reflects green light while it "
        "absorbs red and blue light for photosynthesis.",
    },
]


ECHO = "<<echo the prompt>>"
"""A scripted reply that answers with the request's own user prompt."""


@dataclass
class StubState:
    fail_next: int = 0
    """Answer this many chat requests with HTTP 503 before answering normally."""
    statuses: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    """Answer the next chat requests with these (status, headers), one each, in order."""
    replies: dict[str, list[str]] = field(default_factory=dict)
    """Scripted answers per kind of prompt (see :func:`kind`), used up in order; ``ECHO``
    repeats the prompt. When a kind has none left, the default answer is sent."""
    chunk_delay: float = 0.0
    """Seconds between two streamed chunks (a slow model)."""
    stall_after: int | None = None
    """Stop sending after this many chunks, without closing the stream (a stalled model)."""
    reject_response_format: bool = False
    """Answer HTTP 400 to a request with ``response_format`` (a server that lacks it)."""
    reasoning_chunks: int = 0
    """Stream this many ``reasoning_content`` chunks first (a thinking model)."""
    stream_errors: int = 0
    """Answer this many streamed requests with an ``error`` chunk mid-stream."""
    ignore_stream: bool = False
    """Answer with one JSON document even when asked to stream."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    """Chat requests being answered now, and the most at once."""
    search_headers: list[dict[str, str]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the server stops, so stalled streams end."""

    def sent(self, kind_of_prompt: str) -> list[dict[str, Any]]:
        """The request bodies received for one kind of prompt."""
        return [r for r in self.requests if kind(r["messages"][-1]["content"]) == kind_of_prompt]


def kind(prompt: str) -> str:
    """``outline``, ``translate``, ``conclusion``, ``introduction`` or ``section``."""
    if "Answer only with JSON" in prompt:
        return "outline"
    if prompt.startswith("Translate"):
        return "translate"
    if "one-paragraph conclusion" in prompt:
        return "conclusion"
    if "one-paragraph introduction" in prompt:
        return "introduction"
    return "section"


def _reply(prompt: str) -> str:
    if "Answer only with JSON" in prompt:
        return (
            'Sure:\n```json\n{"title": "Photosynthesis in brief", "sections": '
            '["Light reactions", "The Calvin cycle"]}\n```'
        )
    if prompt.startswith("Translate"):
        document = prompt.split("\n\n", 1)[1]
        return "[traducido]\n" + document.replace("Introduction", "Introducción")
    if "conclusion" in prompt:
        return "Plants feed the living world [1]."
    # a section or introduction: one valid citation and one that points at nothing
    return "Photosynthesis makes sugar from light [1]. It also explains the moon [42]."


def _answer(state: StubState, prompt: str) -> str:
    scripted = state.replies.get(kind(prompt))
    if scripted:
        reply = scripted.pop(0)
        return prompt if reply == ECHO else reply
    return _reply(prompt)


def _tokens(text: str) -> list[str]:
    """The answer cut into word-sized pieces, one per streamed chunk (like a tokenizer)."""
    return re.findall(r"\S+\s*|\s+", text)


def build_app(state: StubState) -> Starlette:
    async def chat(request: Request) -> Response:
        body = await request.json()
        state.requests.append(body)
        if state.fail_next > 0:
            state.fail_next -= 1
            return JSONResponse({"error": "overloaded"}, status_code=503)
        if state.statuses:
            status, headers = state.statuses.pop(0)
            return JSONResponse({"error": {"message": "scripted"}}, status, headers=headers)
        if state.reject_response_format and "response_format" in body:
            error = {"message": "response_format is not supported"}
            return JSONResponse({"error": error}, status_code=400)
        content = _answer(state, body["messages"][-1]["content"])
        if not body.get("stream") or state.ignore_stream:
            message = {"role": "assistant", "content": content}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return JSONResponse(
                {
                    "id": "stub",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [choice],
                }
            )
        pieces = _tokens(content)
        limit = body.get("max_tokens")
        finish = "stop"
        if isinstance(limit, int) and len(pieces) > limit:
            pieces, finish = pieces[:limit], "length"

        failing = state.stream_errors > 0
        state.stream_errors -= failing

        async def chunks() -> AsyncIterator[str]:
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                async for chunk in _chunks():
                    yield chunk
            finally:
                state.in_flight -= 1

        async def _chunks() -> AsyncIterator[str]:
            for _ in range(state.reasoning_chunks):
                thought = {"choices": [{"index": 0, "delta": {"reasoning_content": "hm "}}]}
                yield f"data: {json.dumps(thought)}\n\n"
            if failing:
                yield f"data: {json.dumps({'error': {'message': 'slot unavailable'}})}\n\n"
                return
            for number, piece in enumerate(pieces):
                if state.stall_after is not None and number >= state.stall_after:
                    await state.release.wait()
                    return
                if state.chunk_delay:
                    await asyncio.sleep(state.chunk_delay)
                delta = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                yield f"data: {json.dumps(delta)}\n\n"
            end = {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
            yield f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    async def tavily(request: Request) -> JSONResponse:
        state.search_headers.append(dict(request.headers))
        body = await request.json()
        return JSONResponse({"query": body["query"], "results": SEARCH_RESULTS})

    async def brave(request: Request) -> JSONResponse:
        state.search_headers.append(dict(request.headers))
        results = [
            {"url": r["url"], "title": r["title"], "description": r["content"]}
            for r in SEARCH_RESULTS
        ]
        return JSONResponse({"web": {"results": results}})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/search", tavily, methods=["POST"]),
            Route("/res/v1/web/search", brave, methods=["GET"]),
        ]
    )


@asynccontextmanager
async def serve_stub(state: StubState) -> AsyncIterator[str]:
    """Serve the stub on 127.0.0.1; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(build_app(state), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("stub server did not start within 5 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        state.release.set()
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


CITATION = re.compile(r"\[(\d+)\]")


def markers(text: str) -> list[int]:
    return [int(n) for n in CITATION.findall(text)]


__all__ = ["ECHO", "SEARCH_RESULTS", "StubState", "json", "kind", "markers", "serve_stub"]
