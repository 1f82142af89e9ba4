"""``/openapi.json`` that declares every answer the service gives, and the id formats.

FastAPI documents each route's success and its 422; the edge (:mod:`tk9.server.edge`), the
access gate (:mod:`tk9.server.auth`), the limits and the error handlers answer more, the same
way for every route. :func:`install` adds those answers to every operation from one table
(all with the one error body, ``{"error": {code, message, retryable, details?}}``) and says
that ``session_id`` is a UUID, so a client generator or a fuzzer (``tests/server/
test_openapi_fuzz.py``, schemathesis) knows what the service can answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "retryable"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "retryable": {"type": "boolean"},
                "details": {"type": "object"},
            },
        }
    },
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}

EVERY_ROUTE = {
    "400": "bad request: a `Host` this service does not answer for (`bad_host`), or bad input",
    "401": "no valid credentials (`unauthorized`; TK9_AUTH=accounts)",
    "403": "refused whoever asks: cross-site request, not an admin, a storage quota",
    "503": "storage full or the event log unavailable (`Retry-After`)",
}
WITH_BODY = {
    "408": "the request body did not arrive in time (`request_timeout`)",
    "413": "request body over TK9_MAX_BODY_BYTES (`payload_too_large`)",
}
ON_SESSION = {"404": "no such session, or not yours (`session_not_found`, the same answer)"}
PER_ROUTE: dict[tuple[str, str], dict[str, str]] = {
    ("post", "/api/sessions"): {
        "429": "a limit or quota (`rate_limited`, `too_many_runs`, `queue_full`, "
        "`daily_quota`), with `Retry-After`",
    },
    ("post", "/api/auth/login"): {
        "409": "accounts are off (TK9_AUTH=none)",
        "429": "too many sign-in attempts, with `Retry-After`",
    },
    ("get", "/api/sessions/{session_id}/stream"): {
        "429": "too many live streams opened by this user or address (`rate_limited`), "
        "with `Retry-After`",
    },
    ("delete", "/api/sessions/{session_id}"): {"409": "the run is still in progress (`conflict`)"},
    ("post", "/api/sessions/{session_id}/cancel"): {"409": "nothing to cancel (`conflict`)"},
}


def install(app: FastAPI) -> None:
    """Replace ``app.openapi`` with the completed schema (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, routes=app.routes, description=None
            )
            complete(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(schema: dict[str, Any]) -> None:
    """Add the shared answers and the id formats to a generated schema, in place."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            answers = dict(EVERY_ROUTE)
            if method in ("post", "put", "patch"):
                answers |= WITH_BODY
            if "{session_id}" in path:
                answers |= ON_SESSION
            answers |= PER_ROUTE.get((method, path), {})
            for status, text in answers.items():
                op["responses"].setdefault(
                    status,
                    {"description": text, "content": {"application/json": {"schema": _ERROR_REF}}},
                )
            for param in op.get("parameters", []):
                if param.get("name") == "session_id" and param.get("in") == "path":
                    param["schema"] = {"type": "string", "format": "uuid", "title": "Session Id"}
