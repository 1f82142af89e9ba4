"""What a client may send on a subscription, parsed and checked: pure, no state.

A frame is text, at most ``max_frame_bytes`` in UTF-8, a JSON object with a known ``type``
(``ping``, ``pong``, ``ack``) and valid fields; anything else is a :class:`ProtocolError`
carrying the close code the connection answers with. The frame viewers send most — a plain
``{"type": "ack", "seq": N}`` — is recognised without building a model.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from tk9.errors import CloseCode, ProtocolError
from tk9.protocol.messages import CLIENT_FRAME, Ack, ClientPing, ClientPong


def plain_ack_seq(raw: object) -> int | None:
    """The ``seq`` of exactly ``{"type": "ack", "seq": N}`` with ``N`` an int >= 0, else
    ``None`` (anything else goes through the full validation)."""
    if type(raw) is not dict or len(raw) != 2 or raw.get("type") != "ack":
        return None
    seq = raw.get("seq")
    return seq if type(seq) is int and seq >= 0 else None


def parse_client_frame(
    data: str | bytes, max_frame_bytes: int
) -> ClientPing | ClientPong | Ack | int:
    """The client frame; a valid plain ack (the frame viewers send most) as its ``seq``.

    Raises :class:`~tk9.errors.ProtocolError` with the close code for a frame that is binary,
    larger than ``max_frame_bytes`` (UTF-8), not JSON, of an unknown type or invalid."""
    if isinstance(data, bytes):
        raise ProtocolError(
            "binary frames are not part of the protocol", CloseCode.UNSUPPORTED_DATA
        )
    if len(data) > max_frame_bytes or (
        len(data) * 4 > max_frame_bytes and len(data.encode("utf-8")) > max_frame_bytes
    ):
        raise ProtocolError(f"frame larger than {max_frame_bytes} bytes", CloseCode.FRAME_TOO_LARGE)
    try:
        raw = json.loads(data)
    except ValueError:
        raise ProtocolError("frame is not valid JSON", CloseCode.MALFORMED_FRAME) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise ProtocolError("frame must be a JSON object with a type", CloseCode.MALFORMED_FRAME)
    if raw["type"] not in ("ping", "pong", "ack"):
        raise ProtocolError(
            f"unknown frame type {raw['type'][:32]!r}", CloseCode.UNKNOWN_FRAME_TYPE
        )
    # the frame a viewer sends most: a valid one skips the generic validator
    seq = plain_ack_seq(raw)
    if seq is not None:
        return seq  # no model built per ack
    try:
        return CLIENT_FRAME.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProtocolError(
            f"invalid {raw['type']} frame: {where}: {first['msg']}", CloseCode.MALFORMED_FRAME
        ) from None
