"""REST helpers of the Python client (httpx): create, list and snapshot sessions.

Error bodies (``{"error": {code, message, retryable}}``) become the matching
:mod:`tk9.errors` exception, so callers handle the same errors the server raised. Reads are
retried on transport errors (tenacity, jittered exponential, three attempts); ``create`` is not,
because a retried ``POST`` could create a second session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from tk9.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    SessionNotFound,
    Tk9Error,
    Unauthorized,
    Unavailable,
)
from tk9.state import SessionState

_BY_STATUS: dict[int, type[Tk9Error]] = {
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    422: InvalidInput,
    503: Unavailable,
}


def error_from_response(response: httpx.Response) -> Tk9Error:
    """The :mod:`tk9.errors` exception an error response stands for."""
    try:
        body = response.json()
        error = body.get("error", {}) if isinstance(body, dict) else {}
    except ValueError:
        error = {}
    code = str(error.get("code", "")) if isinstance(error, dict) else ""
    message = str(error.get("message") or f"HTTP {response.status_code}")
    cls: type[Tk9Error]
    if code == SessionNotFound.code:
        cls = SessionNotFound
    elif response.status_code in _BY_STATUS:
        cls = _BY_STATUS[response.status_code]
    elif response.status_code >= 500:
        cls = Unavailable
    else:
        cls = Tk9Error
    exc = cls(message, status=response.status_code)
    if code:
        exc.code = code
    return exc


def raise_for_error(response: httpx.Response) -> None:
    """Raise the matching :class:`~tk9.errors.Tk9Error` unless the response is a success."""
    if response.is_success:
        return
    raise error_from_response(response)


def auth_headers(token: str | None) -> dict[str, str]:
    """``Authorization: Bearer TOKEN`` for an API token (none without one)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


@asynccontextmanager
async def _client(
    client: httpx.AsyncClient | None, token: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    if client is not None:
        yield client
        return
    async with httpx.AsyncClient(timeout=10.0, headers=auth_headers(token)) as own:
        yield own


def _url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


async def _get(
    base_url: str, path: str, client: httpx.AsyncClient | None, token: str | None
) -> httpx.Response:
    async with _client(client, token) as http:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(3),
            wait=wait_exponential_jitter(multiplier=0.1, max=2.0, jitter=0.1),
            retry=retry_if_exception_type(httpx.TransportError),
            reraise=True,
        ):
            with attempt:
                response = await http.get(_url(base_url, path))
        raise_for_error(response)
        return response
    raise AssertionError("unreachable")  # pragma: no cover


async def create_session(
    base_url: str,
    subject: str,
    language: str = "en",
    *,
    client: httpx.AsyncClient | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """``POST /api/sessions``; returns ``{session_id, subject, language, status, ..., warnings}``.

    ``warnings`` is known before the run starts: e.g. that the language has no translator on
    the server, so the report will be in English only.
    """
    async with _client(client, token) as http:
        response = await http.post(
            _url(base_url, "/api/sessions"),
            json={"subject": subject, "language": language},
        )
        raise_for_error(response)
        body: dict[str, Any] = response.json()
        return body


async def get_snapshot(
    base_url: str,
    session_id: str,
    *,
    client: httpx.AsyncClient | None = None,
    token: str | None = None,
) -> SessionState:
    """``GET /api/sessions/{id}``: the session's state with its ``epoch`` and ``seq``."""
    response = await _get(base_url, f"/api/sessions/{session_id}", client, token)
    return SessionState.model_validate_json(response.content)


async def list_sessions(
    base_url: str, *, client: httpx.AsyncClient | None = None, token: str | None = None
) -> list[dict[str, Any]]:
    """``GET /api/sessions``: every session summary the caller may see, newest first
    (following the listing's pages)."""
    sessions: list[dict[str, Any]] = []
    path = "/api/sessions?limit=100"
    while True:
        body = (await _get(base_url, path, client, token)).json()
        sessions += body["sessions"]
        cursor = body.get("next_cursor")
        if not cursor:
            return sessions
        path = f"/api/sessions?limit=100&cursor={quote(cursor)}"
