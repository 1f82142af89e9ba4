"""Local HTTP stubs: an OpenAI-compatible chat-completions server and Tavily/Brave search.

A real Starlette app served by uvicorn on a free loopback port, so the engine's httpx client,
retries and JSON handling run for real. ``StubState`` scripts failures and records requests.
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
from starlette.responses import JSONResponse
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


@dataclass
class StubState:
    fail_next: int = 0
    """Answer this many chat requests with HTTP 503 before answering normally."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    search_headers: list[dict[str, str]] = field(default_factory=list)


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


def build_app(state: StubState) -> Starlette:
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        state.requests.append(body)
        if state.fail_next > 0:
            state.fail_next -= 1
            return JSONResponse({"error": "overloaded"}, status_code=503)
        prompt = body["messages"][-1]["content"]
        return JSONResponse(
            {
                "id": "stub",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": _reply(prompt)},
                        "finish_reason": "stop",
                    }
                ],
            }
        )

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
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


CITATION = re.compile(r"\[(\d+)\]")


def markers(text: str) -> list[int]:
    return [int(n) for n in CITATION.findall(text)]


__all__ = ["SEARCH_RESULTS", "StubState", "json", "markers", "serve_stub"]
