"""Event-log backends behind one port (:class:`tk9.log.base.EventLog`)."""

from tk9.log.base import EventLog, StreamInfo

__all__ = ["EventLog", "StreamInfo"]
