"""The one error module.

Errors that cross the wire are data: a stable ``code``, a human ``message`` and whether the
client may ``retryable``-ly try again. WebSocket close codes encode the reconnect policy by
range (see ``docs/protocol.md``):

* 1000–1015 (standard): reconnect and resume, except the client-error codes 1003, 1007, 1008,
  1009 which mean the client sent something it must not send again.
* 4400–4499: terminal client errors — do not reconnect with the same parameters.
* 4500–4599: server-side, retryable — reconnect with backoff and resume from the cursor.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class CloseCode(IntEnum):
    """WebSocket close codes used by tk9."""

    NORMAL = 1000
    GOING_AWAY = 1001
    UNSUPPORTED_DATA = 1003
    INVALID_PAYLOAD = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    # terminal client errors (4400-4499)
    MALFORMED_FRAME = 4400
    UNAUTHORIZED = 4401
    SESSION_NOT_FOUND = 4404
    FRAME_TOO_LARGE = 4413
    UNKNOWN_FRAME_TYPE = 4415
    BAD_CURSOR = 4422
    # retryable server-side conditions (4500-4599)
    HEARTBEAT_TIMEOUT = 4500
    SLOW_CONSUMER = 4508


_TERMINAL_STANDARD = frozenset({1003, 1007, 1008, 1009})


def should_reconnect(code: int) -> bool:
    """The reconnect policy, decided by the close code alone."""
    if code in _TERMINAL_STANDARD:
        return False
    return not 4400 <= code <= 4499


class Tk9Error(Exception):
    """Base class of every error tk9 raises on purpose.

    ``status`` is the HTTP status the server maps it to.
    """

    code: str = "internal_error"
    status: int = 500
    retryable: bool = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The wire form: ``{code, message, retryable, details?}``."""
        out: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.details:
            out["details"] = self.details
        return out


class NotFound(Tk9Error):
    code = "not_found"
    status = 404


class SessionNotFound(NotFound):
    code = "session_not_found"


class FileNotFound(NotFound):
    code = "file_not_found"


class Unauthorized(Tk9Error):
    """No valid credentials (login cookie or ``Authorization: Bearer TOKEN``)."""

    code = "unauthorized"
    status = 401


class Forbidden(Tk9Error):
    """Refused whoever asks this way: a cross-site request, a foreign ``Origin``."""

    code = "forbidden"
    status = 403


class BadHost(Tk9Error):
    """The ``Host`` header names no host this service answers for (DNS rebinding)."""

    code = "bad_host"
    status = 400


class PayloadTooLarge(Tk9Error):
    code = "payload_too_large"
    status = 413


class RateLimited(Tk9Error):
    """Over a per-user or global limit; ``retry_after`` seconds tells when to try again."""

    code = "rate_limited"
    status = 429
    retryable = True

    def __init__(self, message: str, retry_after: float, **details: Any) -> None:
        super().__init__(message, retry_after=round(retry_after, 3), **details)
        self.retry_after = retry_after


class InvalidInput(Tk9Error):
    """The request or its parameters are invalid; nothing was changed."""

    code = "invalid_input"
    status = 422


class Conflict(Tk9Error):
    code = "conflict"
    status = 409


class ProtocolError(Tk9Error):
    """A client frame broke the wire protocol; ``close_code`` says how the socket is closed."""

    code = "protocol_error"
    status = 400

    def __init__(self, message: str, close_code: CloseCode, **details: Any) -> None:
        super().__init__(message, **details)
        self.close_code = close_code


class Unavailable(Tk9Error):
    code = "unavailable"
    status = 503
    retryable = True


class ResearchError(Tk9Error):
    """An agent failed; the run fails with this message."""

    code = "research_failed"
    status = 500


class GapError(Tk9Error):
    """An event skipped past the next expected ``seq``: the viewer missed events.

    Raised by the projection; the driver heals it by resuming from its cursor (``expected - 1``),
    never by applying the event. ``expected`` and ``got`` are the seqs involved.
    """

    code = "gap"
    status = 409
    retryable = True

    def __init__(self, expected: int, got: int) -> None:
        super().__init__(
            f"gap in event stream: expected seq {expected}, got {got}", expected=expected, got=got
        )
        self.expected = expected
        self.got = got


class EpochMismatch(Tk9Error):
    """An event belongs to another incarnation (epoch) of the stream than the state it meets.

    Seqs of different epochs are not comparable, so the viewer must reset from a snapshot.
    """

    code = "epoch_mismatch"
    status = 409
    retryable = True

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(
            f"event from epoch {got!r} applied to state of epoch {expected!r}",
            expected=expected,
            got=got,
        )
        self.expected = expected
        self.got = got
