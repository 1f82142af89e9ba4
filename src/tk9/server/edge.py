"""The hardened edge: what every request passes before authentication and routing.

* **Host** must be one this service answers for (``TK9_ALLOWED_HOSTS``; the loopback names are
  always allowed): otherwise 400. A page on ``evil.example`` whose DNS is rebound to 127.0.0.1
  reaches the socket but sends ``Host: evil.example``.
* **Origin**: a browser's WebSocket to a session, and any state-changing request a browser
  makes (POST/PUT/PATCH/DELETE without a Bearer token), must come from the service's own
  origin (or a ``TK9_ALLOWED_ORIGINS`` entry): otherwise 403. That is the CSRF defence — a
  cross-site form POST to ``/cancel`` carries ``Origin: https://evil.example`` (or
  ``Sec-Fetch-Site: cross-site``) and is refused before it reaches a handler. Requests that
  carry neither header come from a non-browser client, which no other site can drive.
* **Bodies** are capped at ``TK9_MAX_BODY_BYTES`` (413, without reading the rest) and must
  arrive within ``TK9_BODY_TIMEOUT`` (408). A body is read here, up to the cap, and replayed to
  the app, so no handler ever holds more than the cap.
* **Security headers** on every HTTP response: a Content-Security-Policy without inline script,
  ``frame-ancestors 'none'`` (files may be framed by the dashboard itself, for the PDF preview),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tk9.errors import BadHost, Forbidden, PayloadTooLarge, Tk9Error
from tk9.settings import LOOPBACK_NAMES, Settings

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-src 'self'; frame-ancestors {ancestors}"
)
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class RequestTimeout(Tk9Error):
    code = "request_timeout"
    status = 408


def host_name(host: str) -> str:
    """``Host`` header value without its port, lower case (``[::1]:80`` -> ``[::1]``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    name = host_name(host)
    return bool(name) and ("*" in allowed or name in allowed or name in LOOPBACK_NAMES)


def origin_allowed(origin: str, host: str, extra: frozenset[str]) -> bool:
    """Whether a browser ``Origin`` is this service or a listed one.

    Same host name, and the same port when the ``Host`` header names one (a proxy that forwards
    ``Host: $host``, like nginx's, drops the port the browser used).
    """
    origin = origin.strip().lower().rstrip("/")
    if origin in extra:
        return True
    try:
        parts = urlsplit(origin)
        origin_port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        served = urlsplit("//" + host.strip().lower())
        served_port = served.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return parts.hostname == served.hostname and served_port in (None, origin_port)


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    """The headers added to every response (files may be framed by the dashboard only)."""
    framed = path.startswith("/api/sessions/") and "/files/" in path
    ancestors = "'self'" if framed else "'none'"
    return [
        (b"content-security-policy", CSP.format(ancestors=ancestors).encode()),
        (b"x-frame-options", b"SAMEORIGIN" if framed else b"DENY"),
        *_HEADERS,
    ]


class Edge:
    """ASGI wrapper enforcing the checks above; see the module docstring."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hosts = settings.allowed_host_names
        self.origins = settings.allowed_origin_list
        self.max_body = settings.max_body_bytes
        self.body_timeout = settings.body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        extra = security_headers(str(scope["path"]))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        host = headers.get("host", "")
        if not host_allowed(host, self.hosts):
            refused = BadHost(f"host {host_name(host)[:100]!r} is not served here")
            await _deny(scope, receive, send_with_headers, refused)
            return
        origin = headers.get("origin")
        browser_write = scope["type"] == "websocket" or (
            scope["method"] in UNSAFE and not headers.get("authorization")
        )
        if browser_write and (
            (origin is not None and not origin_allowed(origin, host, self.origins))
            or (origin is None and headers.get("sec-fetch-site") in ("cross-site", "same-site"))
        ):
            await _deny(scope, receive, send_with_headers, Forbidden("cross-site request refused"))
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        if not _has_body(headers):
            await self.app(scope, receive, send_with_headers)
            return
        try:
            body = await self._read_body(headers, receive)
        except Tk9Error as exc:
            await _deny(scope, receive, send_with_headers, exc)
            return
        if body is None:
            return  # the client went away
        await self.app(scope, _replay(body, receive), send_with_headers)

    async def _read_body(self, headers: dict[str, str], receive: Receive) -> bytes | None:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise PayloadTooLarge(f"request body over {self.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body:
                        raise PayloadTooLarge(f"request body over {self.max_body} bytes")
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            raise RequestTimeout(
                f"request body not received within {self.body_timeout:g} s"
            ) from None


def _has_body(headers: dict[str, str]) -> bool:
    length = headers.get("content-length")
    return (length is not None and length != "0") or "transfer-encoding" in headers


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _deny(scope: Scope, receive: Receive, send: Send, error: Tk9Error) -> None:
    """Refuse: a JSON error response; a WebSocket is closed before its handshake (HTTP 403)."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008, "reason": error.message[:120]})
        return
    data = json.dumps({"error": error.to_dict()}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if error.status in (408, 413):
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
