"""Cursors and the resume decision.

A cursor is ``(epoch, seq)``: "I have applied everything up to ``seq`` of stream ``epoch``".
Whether a cursor can be served is a small pure function of the cursor and where the stream
stands. A cursor that cannot be served is never answered with a silent tail: the answer is an
explicit ``reset`` (a fresh snapshot with its seq, then the events after it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tk9.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Cursor:
    """What a client says it has. ``epoch`` is ``None`` for a fresh subscription."""

    seq: int = 0
    epoch: str | None = None


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """Where a session's stream stands (the protocol's view of ``tk9.log.StreamInfo``)."""

    epoch: str
    first_seq: int
    last_seq: int


class ResetReason(StrEnum):
    UNKNOWN_EPOCH = "unknown_epoch"
    FUTURE_SEQ = "future_seq"
    RETENTION = "retention"
    FORGED = "forged"


@dataclass(frozen=True, slots=True)
class Replay:
    """Serve the cursor: replay from ``after + 1``, then continue live."""

    after: int


@dataclass(frozen=True, slots=True)
class Reset:
    """The cursor cannot be served: send a snapshot, then continue after its seq."""

    reason: ResetReason


ResumeDecision = Replay | Reset


def decide_resume(cursor: Cursor, stream: StreamPosition) -> ResumeDecision:
    """Decide how to serve ``cursor`` on ``stream``.

    * a negative seq is forged;
    * a non-zero seq without an epoch, or another epoch, cannot be trusted (another epoch
      means the stream was re-created, e.g. from a wiped data directory);
    * a seq past the head is from the future (a different server or a forged value);
    * a seq below ``first_seq - 1`` was trimmed away (retention).
    """
    if cursor.seq < 0:
        return Reset(ResetReason.FORGED)
    if cursor.epoch is None:
        if cursor.seq == 0 and stream.first_seq <= 1:
            return Replay(0)
        if cursor.seq == 0:
            return Reset(ResetReason.RETENTION)
        return Reset(ResetReason.UNKNOWN_EPOCH)
    if cursor.epoch != stream.epoch:
        return Reset(ResetReason.UNKNOWN_EPOCH)
    if cursor.seq > stream.last_seq:
        return Reset(ResetReason.FUTURE_SEQ)
    if cursor.seq < stream.first_seq - 1:
        return Reset(ResetReason.RETENTION)
    return Replay(cursor.seq)


MAX_SEQ = 2**62
_EPOCH_MAX = 64


def parse_cursor(
    after: str | int | None, epoch: str | None, last_event_id: str | None = None
) -> Cursor:
    """Build a cursor from request parameters.

    ``Last-Event-ID`` (SSE reconnect) wins over ``after``. Values that are not integers raise
    :class:`InvalidInput` (HTTP 422); integers that cannot be served (negative, huge) are kept
    so that :func:`decide_resume` answers them with a reset.
    """
    raw: str | int | None = last_event_id if last_event_id not in (None, "") else after
    if raw is None or raw == "":
        seq = 0
    elif isinstance(raw, int):
        seq = raw
    else:
        text = raw.strip()
        if not text.lstrip("-").isdigit() or len(text) > 20:
            raise InvalidInput(f"cursor must be an integer seq, got {raw[:40]!r}")
        seq = int(text)
    seq = max(min(seq, MAX_SEQ), -1)
    if epoch is not None:
        epoch = epoch.strip()
        if epoch == "":
            epoch = None
        elif len(epoch) > _EPOCH_MAX or not epoch.isascii() or not epoch.isprintable():
            raise InvalidInput("epoch is not a valid stream epoch")
    return Cursor(seq=seq, epoch=epoch)
