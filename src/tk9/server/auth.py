"""Who is asking, and may they see this session: the access gate in front of every route.

:class:`AccessGate` wraps the whole ASGI app (HTTP and the viewers' WebSockets alike), so no
route can forget it: it resolves the caller from ``Authorization: Bearer TOKEN`` or the
dashboard's login cookie, answers 401 to anonymous callers on everything but the login
route, the health check and the dashboard's static files, 403 to non-admins on ``/metrics``
and the test hooks, and exactly what an unknown session gets — 404, or close code 4404 on a
WebSocket — for any ``/api/sessions/{id}…`` or ``/ws/sessions/{id}`` a caller does not own.
Admins own everything. With ``TK9_AUTH=none`` (loopback only) every caller is the local admin.

Opening a live stream (a viewer's WebSocket, SSE) is rate-limited here too, per client address
before the credentials are looked up and per user after (:mod:`tk9.server.limits`): a client
over its rate gets HTTP 429 with ``Retry-After`` before any upgrade, token check or catch-up,
so a reconnect storm costs the server little more than the refusal.

Handlers read the caller with :func:`current_user` (the session's owner is recorded at
creation) and filter listings with :func:`can_see`.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import uuid
from http.cookies import SimpleCookie
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from tk9.accounts.store import User
from tk9.errors import (
    CloseCode,
    Forbidden,
    NotFound,
    RateLimited,
    SessionNotFound,
    Tk9Error,
    Unauthorized,
    Unavailable,
)
from tk9.protocol.messages import ErrorFrame
from tk9.server.context import AppContext

COOKIE = "tk9_session"
LOCAL_ADMIN = User("local", admin=True)
"""The caller under ``TK9_AUTH=none``."""
OWNER_KEY = "user"
"""Stream-metadata key holding the owner's user name (``owner`` is the node running it)."""

ADMIN_ONLY = ("/metrics", "/api/_test/")
"""Service-wide views and test hooks: not for ordinary users."""
PUBLIC_API = frozenset({"/api/auth/login", "/api/auth/logout", "/api/health"})
_SESSION_PATH = re.compile(r"^/(?:api|ws)/sessions/([^/]+)")
_SSE_PATH = re.compile(r"^/api/sessions/[^/]+/stream$")
_SCOPE_KEY = "tk9.user"


def current_user(conn: HTTPConnection) -> User:
    """The caller the gate let through (every non-public route has one)."""
    user = conn.scope.get(_SCOPE_KEY)
    if not isinstance(user, User):
        raise Unauthorized("sign in first")
    return user


def can_see(user: User, meta: dict[str, Any]) -> bool:
    """Whether ``user`` may see a session with this stream metadata (admins see all)."""
    return user.admin or meta.get(OWNER_KEY) == user.username


def owner_meta(user: User, auth: str) -> dict[str, str]:
    """Metadata recording who created a session (nothing under ``TK9_AUTH=none``)."""
    return {} if auth == "none" else {OWNER_KEY: user.username}


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def credentials(scope: Scope) -> tuple[str | None, str]:
    """The token a request carries and how: ``("tk9_…", "bearer" | "cookie")`` or ``(None, "")``."""
    headers = _headers(scope)
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip(), "bearer"
    raw = headers.get("cookie")
    if raw:
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(raw)
        except Exception:  # a malformed cookie header is just no cookie
            return None, ""
        morsel = cookie.get(COOKIE)
        if morsel is not None and morsel.value:
            return morsel.value, "cookie"
    return None, ""


async def resolve_user(ctx: AppContext, scope: Scope) -> User | None:
    """The caller of a request, or None; the store lookup runs off the event loop."""
    if ctx.settings.auth == "none":
        return LOCAL_ADMIN
    token, _ = credentials(scope)
    users = ctx.users
    if not token or users is None:
        return None
    return await asyncio.to_thread(users.user_for_token, token, ctx.clock.wall())


def _needs_user(path: str) -> bool:
    if path in PUBLIC_API:
        return False
    return path.startswith(("/api", "/ws", "/metrics", "/openapi", "/docs", "/redoc"))


async def session_visible(ctx: AppContext, user: User, raw_id: str) -> bool:
    """False when ``raw_id`` is a session that exists but is not the caller's.

    Unknown and malformed ids are left to the handler, which answers them as it always did;
    so an attacker cannot tell someone else's session from one that does not exist.
    """
    if user.admin:
        return True
    try:
        sid = str(uuid.UUID(raw_id))
    except ValueError:
        return True
    try:
        info = await ctx.log.info(sid)
    except NotFound:
        return True
    return can_see(user, info.meta)


def is_stream(scope: Scope) -> bool:
    """Whether a request opens a live stream: a viewer's WebSocket, or SSE."""
    path = str(scope["path"])
    if scope["type"] == "websocket":
        return path.startswith("/ws/sessions/")
    return scope.get("method") == "GET" and _SSE_PATH.match(path) is not None


def client_address(scope: Scope) -> str:
    """The peer's address (the real client's behind a trusted proxy: uvicorn's proxy headers)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class AccessGate:
    """ASGI wrapper: authenticate every request, refuse sessions that are not the caller's."""

    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        accounts = self.ctx.settings.auth == "accounts"
        limits = self.ctx.limits if accounts and is_stream(scope) else None
        try:
            if limits is not None:  # before the token lookup: the cheap refusal
                await limits.stream_address(client_address(scope))
            user = await resolve_user(self.ctx, scope)
            if limits is not None and user is not None:
                await limits.stream_user(user)
        except (Unavailable, RateLimited) as exc:  # e.g. Redis unreachable; a reconnect storm
            await _refuse(scope, receive, send, exc, CloseCode.TRY_AGAIN_LATER)
            return
        if user is not None:
            scope[_SCOPE_KEY] = user
        elif _needs_user(path):
            anonymous = Unauthorized("sign in, or send Authorization: Bearer TOKEN")
            await _refuse(scope, receive, send, anonymous, CloseCode.UNAUTHORIZED)
            return
        if user is not None and not user.admin and path.startswith(ADMIN_ONLY):
            refused = Forbidden("admins only")
            await _refuse(scope, receive, send, refused, CloseCode.POLICY_VIOLATION)
            return
        match = _SESSION_PATH.match(path)
        if user is not None and match and not await session_visible(self.ctx, user, match[1]):
            sid = str(uuid.UUID(match[1]))  # valid: session_visible said so
            hidden = SessionNotFound(f"no session {sid!r}", session_id=sid)
            await _refuse(scope, receive, send, hidden, CloseCode.SESSION_NOT_FOUND)
            return
        await self.app(scope, receive, send)


async def _refuse(
    scope: Scope, receive: Receive, send: Send, error: Tk9Error, close: CloseCode
) -> None:
    """Answer with ``error``: a JSON error response, or on a WebSocket an error frame + close.

    A rate limit is answered before the upgrade, on a WebSocket too: HTTP 429 with
    ``Retry-After`` (clients retry it with their backoff), nothing accepted."""
    body = {"error": error.to_dict()}
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if isinstance(error, RateLimited):
        headers.append((b"retry-after", str(max(1, math.ceil(error.retry_after))).encode()))
    if scope["type"] == "websocket":
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if isinstance(error, RateLimited) and "websocket.http.response" in scope.get(
            "extensions", {}
        ):
            start = {"type": "websocket.http.response.start", "status": 429, "headers": headers}
            await send(start)
            await send({"type": "websocket.http.response.body", "body": data})
            return
        await send({"type": "websocket.accept"})
        frame = ErrorFrame(
            code=error.code,
            message=error.message,
            retryable=error.retryable,
            close_code=int(close),
        )
        await send({"type": "websocket.send", "text": frame.model_dump_json()})
        await send({"type": "websocket.close", "code": int(close), "reason": error.message[:120]})
        return
    if error.status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="tk9"'))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
