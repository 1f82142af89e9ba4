"""Validation of path parameters shared by the routes."""

from __future__ import annotations

import uuid

from tk9.errors import InvalidInput


def parse_session_id(raw: str) -> str:
    """Canonical lower-case UUID text, or ``InvalidInput`` (422) for anything else."""
    if len(raw) > 64:
        raise InvalidInput("session id is not a UUID")
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise InvalidInput(f"session id {raw!r} is not a UUID") from None
