"""The Python client: follow a session live from a cursor, and the REST helpers.

:class:`LiveSession` joins late: the stored snapshot first, then only the events after it.

See :class:`SessionFollower` for the resume guarantees and ``tk9 tail`` (:mod:`tk9.client.tail`)
for the command built on it.
"""

from tk9.client.http import create_session, get_snapshot, list_sessions
from tk9.client.join import LiveSession
from tk9.client.link import Applied, Replaced, Update
from tk9.client.session import TRANSPORTS, SessionFollower, StreamClosed, Transport

__all__ = [
    "TRANSPORTS",
    "Applied",
    "LiveSession",
    "Replaced",
    "SessionFollower",
    "StreamClosed",
    "Transport",
    "Update",
    "create_session",
    "get_snapshot",
    "list_sessions",
]
