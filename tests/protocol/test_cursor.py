"""The resume decision: replay when the cursor can be served, an explicit reset otherwise."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tk9.errors import InvalidInput
from tk9.protocol.cursor import (
    Cursor,
    Replay,
    Reset,
    ResetReason,
    StreamPosition,
    decide_resume,
    parse_cursor,
)

STREAM = StreamPosition(epoch="e1", first_seq=1, last_seq=10)


@pytest.mark.parametrize(
    ("cursor", "expected"),
    [
        (Cursor(0, None), Replay(0)),
        (Cursor(0, "e1"), Replay(0)),
        (Cursor(4, "e1"), Replay(4)),
        (Cursor(10, "e1"), Replay(10)),
        (Cursor(11, "e1"), Reset(ResetReason.FUTURE_SEQ)),
        (Cursor(4, "other"), Reset(ResetReason.UNKNOWN_EPOCH)),
        (Cursor(4, None), Reset(ResetReason.UNKNOWN_EPOCH)),
        (Cursor(-1, "e1"), Reset(ResetReason.FORGED)),
    ],
)
def test_decide_resume(cursor: Cursor, expected: object) -> None:
    assert decide_resume(cursor, STREAM) == expected


def test_cursor_past_retention_is_reset() -> None:
    trimmed = StreamPosition(epoch="e1", first_seq=6, last_seq=10)
    assert decide_resume(Cursor(4, "e1"), trimmed) == Reset(ResetReason.RETENTION)
    assert decide_resume(Cursor(5, "e1"), trimmed) == Replay(5)
    assert decide_resume(Cursor(0, None), trimmed) == Reset(ResetReason.RETENTION)


def test_empty_stream_accepts_zero_only() -> None:
    empty = StreamPosition(epoch="e1", first_seq=1, last_seq=0)
    assert decide_resume(Cursor(0, "e1"), empty) == Replay(0)
    assert decide_resume(Cursor(1, "e1"), empty) == Reset(ResetReason.FUTURE_SEQ)


@given(seq=st.integers(-(2**63), 2**63), first=st.integers(1, 50), length=st.integers(0, 50))
def test_never_a_silent_tail(seq: int, first: int, length: int) -> None:
    """Whatever the cursor, a replay starts exactly where the stream can serve it."""
    stream = StreamPosition(epoch="e", first_seq=first, last_seq=first - 1 + length)
    decision = decide_resume(Cursor(seq, "e"), stream)
    if isinstance(decision, Replay):
        assert first - 1 <= decision.after <= stream.last_seq
        assert decision.after == seq


def test_parse_cursor() -> None:
    assert parse_cursor(None, None) == Cursor(0, None)
    assert parse_cursor("7", "e1") == Cursor(7, "e1")
    assert parse_cursor("7", "e1", last_event_id="9") == Cursor(9, "e1")
    assert parse_cursor("7", "", last_event_id="") == Cursor(7, None)
    assert parse_cursor("-5", "e").seq == -1
    assert parse_cursor("9" * 19, "e").seq == 2**62


@pytest.mark.parametrize("bad", ["abc", "1.5", "0x10", "9" * 30])
def test_parse_cursor_rejects_non_integers(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_cursor(bad, None)


def test_parse_cursor_rejects_bad_epoch() -> None:
    with pytest.raises(InvalidInput):
        parse_cursor("1", "x" * 200)
    with pytest.raises(InvalidInput):
        parse_cursor("1", "bad\nepoch")
